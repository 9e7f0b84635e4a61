package harness

import (
	"os"
	"os/exec"
	"testing"
)

// StartServer starts cmd, a server the test needs, with its output in
// logPath; it is killed at cleanup, and when the test failed the end of
// showLog (default logPath: a server may keep its real log elsewhere) is
// shown.
func StartServer(t *testing.T, name string, cmd *exec.Cmd, logPath, showLog string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	if showLog == "" {
		showLog = logPath
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(showLog)
			t.Logf("%s log (end):\n%s", name, b[max(0, len(b)-3000):])
		}
	})
}

package ignition

import "github.com/ocne-image/ocne-image/shared/atomicfile"

// WriteFile writes a config to path, mode 0600 from the first byte (it
// holds a join token), through a temp file renamed into place, so a
// failure leaves no half-written config and no copy of the token.
func WriteFile(path string, data []byte) error {
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

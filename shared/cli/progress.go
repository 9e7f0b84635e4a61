package cli

import (
	"io"
	"os"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// ProgressBar is the one progress display: a byte-counting bar for long
// work, drawn on a terminal and nowhere else, so logs and scripts stay
// clean. A nil *ProgressBar is a no-op, so callers need not check whether
// one is shown. Libraries take it as their own small interface.
type ProgressBar struct {
	name  string
	p     *mpb.Progress
	bar   *mpb.Bar
	total int64
}

// NewProgressBar returns a bar writing to w if w is a terminal, else nil.
func NewProgressBar(w io.Writer, name string) *ProgressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &ProgressBar{name: name, p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))}
}

// Start sets the total number of bytes.
func (b *ProgressBar) Start(total int64) {
	if b == nil {
		return
	}
	b.total = total
	b.bar = b.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(b.name, decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f")),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace)),
	)
}

// Grow adds n bytes to the total, for work whose size is learnt on the way.
func (b *ProgressBar) Grow(n int64) {
	if b == nil {
		return
	}
	if b.bar == nil {
		b.Start(n)
		return
	}
	b.total += n
	b.bar.SetTotal(b.total, false)
}

// Add records n more bytes done.
func (b *ProgressBar) Add(n int) {
	if b == nil || b.bar == nil {
		return
	}
	b.bar.IncrBy(n)
}

// Done completes (or abandons) the bar and waits for it to be drawn.
func (b *ProgressBar) Done() {
	if b == nil {
		return
	}
	if b.bar != nil {
		if b.bar.Current() < 1 {
			b.bar.Abort(true)
		} else {
			b.bar.SetTotal(-1, true)
		}
	}
	b.p.Wait()
}

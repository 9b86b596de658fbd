package crilog

import "time"

// partsWindow bounds how far before the records a tail asks for the scan
// looks for their earlier parts. containerd writes the parts of a record
// one after the other, so only the other stream's lines come between them;
// a record's parts further back than this are left out.
const partsWindow = maxRecord + 64<<10

// finder decides, line by line from the end of a log, where reading forward
// must start to see every record that a tail and a since select, whole.
//
// A tail counts records, not lines: a record ends with its stream's F line
// and may begin with P lines of the same stream, with the other stream's
// lines in between. The finder counts F lines until it has the tail's
// number, then goes on while a counted record may have earlier parts. Lines
// it passes meanwhile belong to records before the tail; reading forward
// drops them by keeping only the last records (see sink).
type finder struct {
	tail  int
	since time.Time
	found int
	// open marks the streams whose last counted record may have earlier parts.
	open map[string]bool
	// pastSince is set at the first line before since: the lines before
	// it are older still (containerd stamps each line as it writes it),
	// so only the earlier parts of open records remain to be found.
	pastSince bool
	scanned   int64 // bytes passed since the records were found
}

func newFinder(tail int, since time.Time) *finder {
	return &finder{tail: tail, since: since, open: map[string]bool{}}
}

// reached reports whether every record wanted has been counted.
func (f *finder) reached() bool { return f.pastSince || (f.tail > 0 && f.found >= f.tail) }

func (f *finder) anyOpen() bool {
	for _, o := range f.open {
		if o {
			return true
		}
	}
	return false
}

// take is given each line, last first, with its length, and reports
// whether reading must start at or before it; false means that neither it
// nor any line before it is needed.
func (f *finder) take(line []byte, n int64) bool {
	t, stream, partial, _, err := Parse(line)
	if err != nil {
		return true // skipped when read forward too
	}
	if !f.since.IsZero() && t.Before(f.since) {
		f.pastSince = true
	}
	if f.reached() {
		if f.scanned += n; f.scanned > partsWindow {
			return false
		}
	}
	if partial {
		// A part of an open record, or of one not counted yet.
		return !f.reached() || f.anyOpen()
	}
	// An F line ends the record before the one its stream had open.
	f.open[stream] = false
	if !f.reached() {
		f.found++
		f.open[stream] = true
		return true
	}
	return f.anyOpen()
}

// position is a place in a log of several files.
type position struct {
	src int   // index in the log's sources
	off int64 // offset in that source
}

// findStart returns where reading srcs forward must begin for o. Without a
// tail or since it is the start; otherwise the plain files are scanned
// backwards from the newest. Compressed files cannot be read backwards:
// reaching one starts from the beginning, and reading forward keeps only
// what o selects.
func findStart(srcs []Source, o Options, buf []byte) (position, error) {
	if o.Tail <= 0 && o.Since.IsZero() {
		return position{}, nil
	}
	f := newFinder(o.Tail, o.Since)
	for i := len(srcs) - 1; i >= 0; i-- {
		if srcs[i].Gzip {
			return position{}, nil
		}
		var at position
		stopped := false
		err := scanBack(srcs[i].R, srcs[i].Size, buf, func(start, end int64, h []byte) bool {
			if !f.take(h, end-start) {
				at, stopped = position{i, end}, true
				return false
			}
			return true
		})
		if err != nil || stopped {
			return at, err
		}
	}
	return position{}, nil
}

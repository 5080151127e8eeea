package plugins

import (
	"os"
	"syscall"
	"time"
)

// identify returns a file's identity for the hash cache.
func identify(path string) (fileIdentity, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return fileIdentity{}, false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdentity{}, false
	}
	return fileIdentity{
		path: path, dev: uint64(st.Dev), ino: st.Ino, size: info.Size(),
		mtime: info.ModTime(), ctime: time.Unix(st.Ctim.Sec, st.Ctim.Nsec),
	}, true
}

package plugins

import (
	"os"
	"sync"
	"time"
)

// hashCache remembers the sha256 of binaries by their file identity, so a
// restart or swap to a binary already seen does not read and hash ~20 MB
// again. It cannot let unverified code run: what runs is always the copy in
// the exec directory named by the hash that was checked against the lock. A
// stale entry could at worst run the bytes that were hashed, which the lock
// allowed.
type hashCache struct {
	mu   sync.Mutex
	sums map[fileIdentity]string
}

// fileIdentity changes whenever the file's content may have: the change
// time (ctime) moves on every write and cannot be set by a user.
type fileIdentity struct {
	path         string
	dev, ino     uint64
	size         int64
	mtime, ctime time.Time
}

// verifiedCopy returns the path of a runnable copy of bin whose hash the
// lock allows, and that hash.
func (c *hashCache) verifiedCopy(bin Binary, lock *Lock, execDir string) (path, sum string, err error) {
	id, identified := identify(bin.Path)
	if identified {
		c.mu.Lock()
		sum = c.sums[id]
		c.mu.Unlock()
	}
	if sum != "" {
		if err := lock.Verify(bin, sum); err != nil {
			return "", "", err
		}
		path = execCopyPath(execDir, bin.Name(), sum)
		if info, err := os.Stat(path); err == nil && info.Size() == id.size {
			return path, sum, nil
		}
	}
	data, sum, err := readAndHash(bin.Path)
	if err != nil {
		return "", "", err
	}
	if err := lock.Verify(bin, sum); err != nil {
		return "", "", err
	}
	if path, err = placeExecCopy(execDir, bin.Name(), data, sum); err != nil {
		return "", "", err
	}
	if identified {
		c.mu.Lock()
		c.sums[id] = sum
		c.mu.Unlock()
	}
	return path, sum, nil
}

package local

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// defaultUser is who instances run as when sluice runs as root and Options.User is
// empty.
const defaultUser = "nobody"

// runAs is the OS user the instances run as.
type runAs struct {
	name     string
	uid, gid uint32
	cred     *syscall.Credential // nil: sluice's own user, no change
}

func (u runAs) String() string { return fmt.Sprintf("user %s (uid %d)", u.name, u.uid) }

// instanceUser decides who instances run as. As root: name, or nobody when empty, with
// no supplementary groups. Otherwise: sluice's own user; another name is an error,
// since only root can start processes as someone else.
func instanceUser(name string) (runAs, error) {
	if os.Geteuid() != 0 {
		self := runAs{name: strconv.Itoa(os.Geteuid()), uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
		if cur, err := user.Current(); err == nil {
			self.name = cur.Username
		}
		if name != "" && name != self.name && name != strconv.Itoa(os.Geteuid()) {
			return runAs{}, fmt.Errorf("user %s: sluice runs as %s and cannot start instances as another user; run sluice as root or leave local.user empty", name, self)
		}
		return self, nil
	}
	if name == "" {
		name = defaultUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return runAs{}, fmt.Errorf("user %s: no such user", name)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return runAs{}, fmt.Errorf("user %s: uid %q gid %q are not numbers", name, u.Uid, u.Gid)
	}
	r := runAs{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
	r.cred = &syscall.Credential{Uid: r.uid, Gid: r.gid, Groups: []uint32{}}
	return r, nil
}

// may reports whether the user has permission bit (4 read, 2 write, 1 execute or
// search) on fi by its owner, group or other bits; root may do anything but execute a
// file with no execute bit at all.
func (u runAs) may(fi fs.FileInfo, bit uint32) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := uint32(fi.Mode().Perm())
	if u.uid == 0 {
		return bit != 1 || fi.IsDir() || perm&0o111 != 0
	}
	switch {
	case st.Uid == u.uid:
		return perm>>6&bit != 0
	case st.Gid == u.gid:
		return perm>>3&bit != 0
	default:
		return perm&bit != 0
	}
}

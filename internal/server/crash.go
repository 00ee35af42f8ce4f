package server

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// crashPoint returns the engine hook that kills this process with SIGKILL at the n-th
// time it passes the named journal boundary; nil when no crash is asked for.
func crashPoint(spec, fromEnv string) (func(string), error) {
	if spec == "" {
		spec = fromEnv
	}
	if spec == "" {
		return nil, nil
	}
	name, count, ok := strings.Cut(spec, ":")
	n := 1
	if ok {
		var err error
		if n, err = strconv.Atoi(count); err != nil || n < 1 {
			return nil, fmt.Errorf("server: crash point %q: the count after the colon must be a positive number", spec)
		}
	}
	var mu sync.Mutex
	seen := 0
	return func(point string) {
		if point != name {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen++; seen == n {
			syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
			select {} // never continue past the crash point
		}
	}, nil
}

package engine

import "sync"

// answerKey names one request of one execution.
type answerKey struct {
	execution string
	seq       int64
}

// waiters wakes the callers waiting here for a request's answer.
type waiters struct {
	mu sync.Mutex
	m  map[answerKey][]chan struct{}
}

// watch returns a channel that is closed when the request is answered here.
func (w *waiters) watch(execution string, seq int64) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[answerKey][]chan struct{}{}
	}
	ch := make(chan struct{})
	k := answerKey{execution, seq}
	w.m[k] = append(w.m[k], ch)
	return ch
}

// unwatch forgets a channel from watch that may not have been closed.
func (w *waiters) unwatch(execution string, seq int64, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := answerKey{execution, seq}
	chs := w.m[k]
	for i, c := range chs {
		if c == ch {
			w.m[k] = append(chs[:i:i], chs[i+1:]...)
			break
		}
	}
	if len(w.m[k]) == 0 {
		delete(w.m, k)
	}
}

// wake closes every channel watching the request.
func (w *waiters) wake(execution string, seq int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := answerKey{execution, seq}
	for _, ch := range w.m[k] {
		close(ch)
	}
	delete(w.m, k)
}

package worker

import (
	"net/http"
)

// HTTPHandler serves /healthz (the process is alive), /readyz (receiving: not
// before start, not while draining or while the access-denied circuit is open)
// and /metrics.
func (w *Worker) HTTPHandler(m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		if !w.Ready() {
			http.Error(rw, "not receiving (starting, draining, or access-denied circuit open)", http.StatusServiceUnavailable)
			return
		}
		rw.Write([]byte("ok\n"))
	})
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	return mux
}

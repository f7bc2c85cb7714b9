package healthcheck

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		wantErr    bool
		wantStatus int // non-zero: expect a *StatusError with this code
	}{
		{name: "200 is healthy", status: http.StatusOK},
		{name: "204 is healthy", status: http.StatusNoContent},
		{name: "503 is unhealthy", status: http.StatusServiceUnavailable, wantErr: true, wantStatus: 503},
		{name: "404 is unhealthy", status: http.StatusNotFound, wantErr: true, wantStatus: 404},
		{name: "redirect to a missing page is unhealthy", status: http.StatusFound, wantErr: true, wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					t.Errorf("method = %s, want GET", r.Method)
				}
				if tt.status == http.StatusFound {
					http.Redirect(w, r, "/elsewhere", http.StatusFound)
					return
				}
				w.WriteHeader(tt.status)
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)

			err := Probe(context.Background(), srv.URL+"/healthz", 5*time.Second)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Probe() error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantStatus != 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.wantStatus {
					t.Fatalf("Probe() error = %v, want *StatusError with code %d", err, tt.wantStatus)
				}
			}
		})
	}
}

func TestProbeTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	start := time.Now()
	err := Probe(context.Background(), srv.URL, 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Probe() error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Probe() took %v, want about the 50ms timeout", d)
	}
}

func TestProbeConnectionRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more

	err := Probe(context.Background(), url, time.Second)
	if err == nil {
		t.Fatal("Probe() of a closed port succeeded")
	}
	var se *StatusError
	if errors.As(err, &se) {
		t.Fatalf("Probe() error = %v, want a transport error, not a status", err)
	}
}

func TestProbeBadURL(t *testing.T) {
	t.Parallel()
	if err := Probe(context.Background(), "http://[::1", time.Second); err == nil {
		t.Fatal("Probe() with a malformed URL succeeded")
	}
}

func TestURLFromAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    string
		want    string
		wantErr bool
	}{
		{addr: ":8080", want: DefaultURL},
		{addr: "0.0.0.0:9090", want: "http://127.0.0.1:9090/healthz"},
		{addr: "[::]:8080", want: "http://[::1]:8080/healthz"},
		{addr: "10.0.0.5:8081", want: "http://10.0.0.5:8081/healthz"},
		{addr: "localhost:80", want: "http://localhost:80/healthz"},
		{addr: "8080", wantErr: true},
		{addr: "127.0.0.1:", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			got, err := URLFromAddr(tt.addr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("URLFromAddr(%q) error = %v, wantErr %v", tt.addr, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("URLFromAddr(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}

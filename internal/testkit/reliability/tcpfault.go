package reliability

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// TCPFault is a TCP proxy that can make its upstream unreachable: while down,
// open connections are cut and new ones are reset at once, as when a network
// path or an endpoint fails. It counts every connection attempt, so a test can
// tell a client that backs off from one that spins.
//
// It works below HTTP on purpose: the client sees exactly what a real outage
// gives it (connection resets), and nothing about requests is interpreted.
type TCPFault struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}

	attempts atomic.Int64 // connections accepted (refused ones included)
	refused  atomic.Int64 // connections reset while down
	wg       sync.WaitGroup
}

// StartTCPFault listens on 127.0.0.1 (a free port) and forwards to upstream
// (host:port).
func StartTCPFault(upstream string) (*TCPFault, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &TCPFault{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *TCPFault) Addr() string { return p.ln.Addr().String() }

// Down starts (true) or ends (false) the outage. Starting it cuts every open
// connection.
func (p *TCPFault) Down(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			reset(c)
		}
	}
}

// Attempts is the number of connections clients opened so far, refused ones
// included.
func (p *TCPFault) Attempts() int64 { return p.attempts.Load() }

// Refused is the number of connections reset because the proxy was down.
func (p *TCPFault) Refused() int64 { return p.refused.Load() }

// Close stops listening and cuts every connection.
func (p *TCPFault) Close() error {
	err := p.ln.Close()
	p.Down(true)
	p.wg.Wait()
	return err
}

func (p *TCPFault) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.attempts.Add(1)
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			p.refused.Add(1)
			reset(c)
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.pipe(c)
	}
}

func (p *TCPFault) pipe(c net.Conn) {
	defer p.wg.Done()
	defer p.forget(c)
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		reset(c)
		return
	}
	p.mu.Lock()
	if p.down { // went down while dialing
		p.mu.Unlock()
		reset(c)
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.forget(up)
	done := make(chan struct{}, 2)
	copyHalf := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go copyHalf(up, c)
	go copyHalf(c, up)
	<-done // either side closing ends both
	reset(c)
	up.Close()
	<-done
}

func (p *TCPFault) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// reset closes c with an RST rather than a FIN, as a failed path does.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

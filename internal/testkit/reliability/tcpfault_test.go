package reliability

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestTCPFault: traffic passes while up; going down cuts open connections
// and resets new ones (counted); coming back up restores service.
func TestTCPFault(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	p, err := StartTCPFault(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	echo := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		return err
	}
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(open); err != nil {
		t.Fatalf("up: %v", err)
	}
	p.Down(true)
	if err := echo(open); err == nil {
		t.Error("an open connection survived the outage")
	}
	c, err := net.Dial("tcp", p.Addr())
	if err == nil {
		if err := echo(c); err == nil {
			t.Error("a new connection worked during the outage")
		}
		c.Close()
	}
	if p.Refused() == 0 {
		t.Error("refused connection not counted")
	}
	p.Down(false)
	c, err = net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echo(c); err != nil {
		t.Errorf("after the outage: %v", err)
	}
	if p.Attempts() != 3 {
		t.Errorf("%d attempts counted, want 3", p.Attempts())
	}
}

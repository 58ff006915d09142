package testenv

import (
	"bufio"
	"net"
	"testing"
	"time"
)

func TestProxyForwardsAndCuts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // echo one line per line
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						c.Close()
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	p := NewProxy(t, ln.Addr().String())
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("ping\n"))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("through the proxy: %q, %v", line, err)
	}
	p.Down()
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatal("connection still open after Down")
	}
	c2, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err == nil {
		c2.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("a new connection got through while down")
		}
	}
	p.Up()
	c3, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c3.SetDeadline(time.Now().Add(5 * time.Second))
	c3.Write([]byte("again\n"))
	if line, err := bufio.NewReader(c3).ReadString('\n'); err != nil || line != "again\n" {
		t.Fatalf("after Up: %q, %v", line, err)
	}
}

// A plain Go `net` echo server, the way a Go user writes one: no welcome
// line, no reply prefix, one goroutine per connection copying its input back
// (io.Copy). //tools:compare builds it with `go build` at run time and drives
// it with the load generator's raw mode.
//
// Usage: go_echo PORT_FILE (listens on 127.0.0.1, any free port, and writes
// the port to PORT_FILE atomically once it accepts).
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_echo PORT_FILE")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	tmp := os.Args[1] + ".tmp"
	port := ln.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", port)), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, os.Args[1]); err != nil {
		log.Fatal(err)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			io.Copy(c, c)
		}(conn)
	}
}

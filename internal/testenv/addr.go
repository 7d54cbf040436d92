package testenv

import "net"

// FreeLoopbackAddr returns a loopback address whose port is free right now,
// for a process started next to listen on (a manager's metrics endpoint).
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// requestTimeout bounds one request of the load, so that a stuck server
// fails the bench rather than hanging it.
const requestTimeout = 30 * time.Second

// poster sends POST requests over one kept-alive HTTP/1.1 connection,
// written and read on the caller's goroutine. net/http's Transport adds two
// goroutines per connection and channel hand-offs per request; as the load
// generator shares this machine's cores with the server it measures, the
// CPU it saves goes to the server (as with wrk, which is built the same
// way). Responses are parsed by net/http.
type poster struct {
	host string
	conn net.Conn
	br   *bufio.Reader
	req  []byte
}

func newPoster(baseURL string) (*poster, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	return &poster{host: u.Host}, nil
}

// post sends body to path with the header lines given (each "Name: value")
// and returns the response's status, having read its body.
func (p *poster) post(ctx context.Context, path string, body []byte, header ...string) (int, error) {
	if p.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", p.host)
		if err != nil {
			return 0, err
		}
		p.conn, p.br = c, bufio.NewReader(c)
	}
	r := append(p.req[:0], "POST "...)
	r = append(r, path...)
	r = append(r, " HTTP/1.1\r\nHost: "...)
	r = append(r, p.host...)
	r = append(r, "\r\nContent-Type: application/json\r\n"...)
	for _, h := range header {
		r = append(append(r, h...), "\r\n"...)
	}
	r = fmt.Appendf(r, "Content-Length: %d\r\n\r\n", len(body))
	r = append(r, body...)
	p.req = r
	p.conn.SetDeadline(time.Now().Add(requestTimeout))
	if _, err := p.conn.Write(r); err != nil {
		p.close()
		return 0, err
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		p.close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		p.close()
	}
	return resp.StatusCode, err
}

func (p *poster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

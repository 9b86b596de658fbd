package api

import (
	"net/http"
	"strings"
)

// route is one ARM path template. ARM paths are case-insensitive, so literal
// segments match regardless of case; {name} segments capture the value as
// sent.
type route struct {
	method   string
	segments []string
	op       string
	handle   func(w http.ResponseWriter, r *http.Request, p params)
}

// params are the captured {name} segments of a matched route.
type params map[string]string

type router struct {
	routes []route
}

func (rt *router) add(method, template, op string, h func(http.ResponseWriter, *http.Request, params)) {
	rt.routes = append(rt.routes, route{method: method, segments: split(template), op: op, handle: h})
}

func split(path string) []string {
	return strings.Split(strings.Trim(path, "/"), "/")
}

// match finds the route for a request. It returns the route, its
// parameters, and whether the path matched some route with another method.
func (rt *router) match(method, path string) (*route, params, bool) {
	segs := split(path)
	pathMatched := false
	for i := range rt.routes {
		r := &rt.routes[i]
		p, ok := r.matchPath(segs)
		if !ok {
			continue
		}
		if r.method != method {
			pathMatched = true
			continue
		}
		return r, p, true
	}
	return nil, nil, pathMatched
}

func (r *route) matchPath(segs []string) (params, bool) {
	if len(segs) != len(r.segments) {
		return nil, false
	}
	var p params
	for i, t := range r.segments {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if p == nil {
				p = params{}
			}
			p[t[1:len(t)-1]] = segs[i]
			continue
		}
		if !strings.EqualFold(t, segs[i]) {
			return nil, false
		}
	}
	return p, true
}

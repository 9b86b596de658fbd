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
	// action is the operation as ARM's role definitions name it, such as
	// Microsoft.ContainerInstance/containerGroups/read.
	action string
	handle func(w http.ResponseWriter, r *http.Request, p params)
}

// params are the captured {name} segments of a matched route.
type params map[string]string

type router struct {
	routes []route
}

func (rt *router) add(method, template, op string, h func(http.ResponseWriter, *http.Request, params)) {
	segs := split(template)
	rt.routes = append(rt.routes, route{method: method, segments: segs, op: op, action: armAction(method, segs), handle: h})
}

// armAction names the operation of a route as ARM's authorization does:
// the provider, the resource types of the path (its literal segments after
// the provider), and read, write, delete or, for POST, action.
func armAction(method string, segs []string) string {
	var b strings.Builder
	after := false
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			continue
		}
		if after {
			b.WriteString("/" + s)
		}
		if i > 0 && strings.EqualFold(segs[i-1], "providers") {
			b.WriteString(s)
			after = true
		}
	}
	switch method {
	case http.MethodGet:
		b.WriteString("/read")
	case http.MethodDelete:
		b.WriteString("/delete")
	case http.MethodPost:
		b.WriteString("/action")
	default:
		b.WriteString("/write")
	}
	return b.String()
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

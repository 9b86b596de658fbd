package wire

// ExecExtension is what vnode adds to ACI's exec request body (the
// exec-argv extension). The agent sends it beside ACI's fields, the service
// reads it from the same body.
type ExecExtension struct {
	// Argv is the command with its arguments, unsplit; it takes
	// precedence over ACI's command string.
	Argv []string `json:"argv,omitempty"`
}

//go:build tools

// Pins the Pulumi Python language host. Newer hosts live in their own module
// (sdk/python/cmd/pulumi-language-python/v3), which the Go module proxy does not serve; v3.79.0
// is the last release whose host is part of github.com/pulumi/pulumi/sdk/v3 (tested with the
// v3.229.0 CLI: preview, up, destroy, dynamic providers).
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python"

//go:build tools

// Pins the Pulumi YAML language host (the component provider is tested with a Pulumi YAML program).
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"

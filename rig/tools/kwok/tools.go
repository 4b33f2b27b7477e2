//go:build tools

// Package tools pins the commands that rig/build compiles from this module.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)

package agent_test

import "syscall"

var syscallECONNREFUSED = syscall.ECONNREFUSED

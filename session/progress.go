package session

// EventKind is what a progress Event reports.
type EventKind string

// Progress event kinds. They map one to one onto the official CLI's JSON
// progress lines (NewTask, FinishedTask, Warning, Info) and onto LSP
// $/progress begin/report/end.
const (
	TaskStarted  EventKind = "task_started"
	TaskFinished EventKind = "task_finished"
	// TaskProgress is a step within a running task (e.g. "agent Job …
	// created" while starting the agent). The official CLI's JSON
	// progress has no such line: `mirrord ext` does not print it.
	TaskProgress EventKind = "task_progress"
	Warning      EventKind = "warning"
	Info         EventKind = "info"
)

// Event is one step of starting a session.
type Event struct {
	Kind EventKind `json:"kind"`
	// Task names the step (TaskStarted, TaskProgress, TaskFinished).
	Task string `json:"task,omitempty"`
	// Success of a finished task.
	Success bool `json:"success,omitempty"`
	// Message of a finished task, a task's progress, a warning or an info.
	Message string `json:"message,omitempty"`
}

// ProgressFunc receives events in order, from the goroutine calling Start.
type ProgressFunc func(Event)

// Task names, in the order Start runs them.
const (
	TaskConfig   = "resolving configuration"
	TaskTarget   = "resolving target"
	TaskAgent    = "starting agent"
	TaskConnect  = "connecting to agent"
	TaskEnv      = "fetching remote environment"
	TaskIntproxy = "starting internal proxy"
)

type reporter struct{ fn ProgressFunc }

func (r reporter) emit(e Event) {
	if r.fn != nil {
		r.fn(e)
	}
}

// task starts a step; finish it with ok or fail.
func (r reporter) task(name string) *task {
	r.emit(Event{Kind: TaskStarted, Task: name})
	return &task{r: r, name: name}
}

func (r reporter) warning(msg string) { r.emit(Event{Kind: Warning, Message: msg}) }

// progress reports a step within the running task.
func (r reporter) progress(task, msg string) {
	r.emit(Event{Kind: TaskProgress, Task: task, Message: msg})
}
func (r reporter) info(msg string) { r.emit(Event{Kind: Info, Message: msg}) }

type task struct {
	r    reporter
	name string
	done bool
}

func (t *task) ok(msg string) {
	if !t.done {
		t.done = true
		t.r.emit(Event{Kind: TaskFinished, Task: t.name, Success: true, Message: msg})
	}
}

// fail finishes the task unsuccessfully unless it already finished; use it
// in a defer.
func (t *task) fail() {
	if !t.done {
		t.done = true
		t.r.emit(Event{Kind: TaskFinished, Task: t.name})
	}
}

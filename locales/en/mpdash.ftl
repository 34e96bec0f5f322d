# mpdash's words in English. Every message here has its twin in
# locales/fr/mpdash.ftl with the same placeholders (a test checks both).
# Leading and trailing spaces are the code's, never the message's.

## Keys: the hint bar's words and the ? help (src/app/keys.rs)

hint-quit = quit
help-quit = Quit: asks first while a run is live (its processes are killed and the terminal restored); Ctrl-C quits without asking. Esc never quits: it only closes or cancels.
hint-rerun = rerun
help-rerun = Kill the current run and start the scenario again.
hint-method = method → { $method }
help-method = Switch to the next start method (fork → spawn → forkserver) and rerun.
hint-tab = tabs
help-tab = Next tab: Live, Compare (every finished run side by side), Scaling, Log.
help-tab-live = Live tab: the current run.
help-tab-compare = Compare tab: start latency, memory and wall time of every finished run.
help-tab-scaling = Scaling tab: speedup against workers of the last scaling measurement.
help-tab-log = Log tab: starts, exits with their signals, deaths, losses and recoveries.
hint-scaling = scaling
help-scaling = Measure scaling ([scaling] scenarios): processes, threads under a simulated GIL, free threads.
hint-kill = kill
help-kill = SIGKILL the selected process (asks y/n): watch the pool replace it, a lock pass on.
help-stop = SIGSTOP the selected process (stop a consumer and watch its queue fill).
help-cont = SIGCONT the selected process.
help-yes = Answer yes to a question (kill this process? quit while the run is live?).
help-no = Answer no to a question (every key but y does too, and says so).
help-down = Select the next process (on the Log tab: scroll down).
help-up = Select the previous process (on the Log tab: scroll up).
help-page-down = A page down the list (processes, the Log, the picker).
help-page-up = A page up the list.
help-home = The top of the list (the Log's oldest entry).
help-end = The bottom of the list (the Log's newest entry).
hint-back = back
help-back = Step back one sample through the run (the display freezes; the run goes on): every panel shows that moment — tree, CPU, queues, locks, waits, output.
help-forward = Step forward one sample; at the newest, back to live.
help-enter = Fold or unfold the selected process's children; on the Compare tab, show the next scenario's runs (the current one first).
hint-filter = filter
help-filter = Filter processes by name or pid, or on the Log tab its entries by text (Enter keeps it, Esc clears it).
help-sort = Sort siblings by CPU, RSS, PID, name, or start order (cycles; the column header shows it).
help-reverse = Reverse the sort order.
help-hide-ended = Hide or show processes that have ended (a live one under an ended one stays).
hint-freeze = freeze
help-freeze = Freeze the display while the run goes on (← → then step through it); again to catch up.
hint-zoom = zoom
help-zoom = Give one panel the whole screen: on Live the processes, pool/resources, output, explanation, back; on Scaling the measurement (no tree); on Compare the table.
help-faster = Sample more often (up to 30 Hz).
help-slower = Sample less often (down to 0.5 Hz).
help-more-workers = One pool worker more for the next run (r reruns now).
help-fewer-workers = One pool worker fewer for the next run.
hint-open = open
help-open = Open another scenario or Python program from scenarios/ (a list with each title).
hint-waits = waits
help-waits = Who waits for whom: each blocked process's chain of waits, as sentences, to what could end it (or why nothing can).
hint-help = help
help-help = Show or hide this help.
key-space = space
key-enter = Enter
key-page-down = PgDn
key-page-up = PgUp
key-home = Home/g
key-end = End/G

## Popups: help, who waits for whom, the scenario picker (src/ui/help.rs)

help-title = Keys
help-note = CPU% is percent of one core, from /proc/<pid>/stat; START is request → first instruction. Mouse: click a row or a tab.
help-scroll = lines { $first }–{ $last } of { $total } · ↑/↓ PgUp/PgDn scroll · Esc close
waits-title = Who waits for whom
waits-close = w or Esc close
waits-nobody-blocked = Nobody is blocked: every live process computes, sleeps or runs.
picker-title = Open a scenario
picker-empty = no scenario files in scenarios/
picker-keys = ↑/↓ choose · Enter open (checked first; the current run is replaced) · Esc close

## Text panels and the hint bar (src/ui/text_panels.rs)

output-title = Output
output-earlier = ↑ { $n } earlier (z)
explain-title = What to watch
explain-more = ↓ { $n } more { $n ->
    [one] line
   *[other] lines
} (z)
filter-label = filter:
filter-keys = Enter keep · Esc clear

## Waits and diagnoses (src/telemetry/waits.rs): how a wait reads in the
## table, the red banner and `w`

wait-at = { $what } at { $at }
at-place = at { $at }
wait-get = get { $res } (empty)
wait-put = put { $res } (full)
wait-join-queue = join { $res } (unfinished items)
wait-recv = recv { $res }
wait-acquire = acquire { $res }
wait-acquire-held = acquire { $res } (held by { $holder })
wait-condition = wait { $res } (notify)
wait-event = wait { $res } (set)
wait-barrier = barrier { $res }
wait-barrier-count = barrier { $res } { $arrived }/{ $parties }
wait-join = join { $name }
pool-tasks-left = pool: { $n } { $n ->
    [one] task
   *[other] tasks
} left
wait-manager = a manager call (blocked)
wait-flush = exit: flush { $res } into its pipe
wait-flush-unread = exit: flush { $res } ({ $n } unread) into its pipe
stuck-how-locks = each holds what the next one waits for (locks taken in opposite orders)
stuck-how-joins = each joins the next
stuck-deadlock = Deadlock: { $cycle }: { $how }.
gone-died = { $name } died ({ $signal })
gone-exited = { $name } exited { $code }
gone-ended = { $name } ended
gone-never-started = { $name } never started
stuck-its-queue = its queue
stuck-join-before-get = Stuck: { $child } cannot exit until the feeder thread of the Queue { $queue } has written what it put into the pipe, and nobody reads it: { $parent } joins { $child }{ $at } before getting from { $queue }. Get the items before join() ("joining processes that use queues" in the multiprocessing docs).
stuck-flush-chain = { $child } → { $flush } → nobody can read it: { $parent } waits for { $child } to end
stuck-every-waits = every live process waits
stuck-every-waits-gone = every live process waits; { $gone }
stuck-waits-to = { $name } waits to { $what }
stuck-nobody-can-serve = Stuck: { $doing }, and nobody can serve them ({ $why }).
serve-nobody = nobody can { $verb }: { $why }
# $n, the number of names, chooses the verb's form in other languages.
serve-can = { $n ->
   *[other] can
} { $verb }: { $names }
graph-runs = { $name } runs
graph-cycle = a cycle: deadlock
graph-timeout = ends by itself (a timeout)
serve-put = put
serve-get = get
serve-task-done = call task_done
serve-send = send
serve-release = release
serve-notify = notify
serve-set = set it
serve-arrive = arrive
serve-end = end
serve-run-tasks = run the tasks
serve-answer = answer
serve-read = read it

## The red banner (src/ui/stuck_banner.rs)

banner-deadlock = DEADLOCK
banner-stuck = STUCK
banner-lost-task = LOST TASK
banner-keys = the run will never move again · k kills, r reruns, q quits
banner-keys-attached = the program will never move again · q detaches (nothing is killed)
banner-proven-at = proven at { $secs } s
banner-raised = { $name } raised { $error }
banner-more = … and { $n } more (Log tab)
no-progress = no progress for { $secs } s: { $waits } — nothing proves a hang, it could still end: { $escapes }
escape-handler = a handler for { $signals } (a timer may be pending)
escape-thread = its thread { $name }, not waiting on the tree
escape-main-thread = its main thread, not waiting on the tree
escape-listener = a client outside the tree ({ $name } listens on TCP port { $port })

## The Log tab (src/ui/log_panel.rs, src/app/event_log.rs)

log-title = Log
log-filter = filter /{ $filter }
log-newer = ↓ { $n } newer (End)
log-times = times are the run's clock when a sample saw it
log-started = { $name } started (pid { $pid }, { $method }) in { $latency }
log-exit = { $name } (pid { $pid }) { $how }
log-ended-reaped = ended (its parent reaped it; the status is the parent's to see)
log-killed-by = killed by { $signal }
log-exited = exited { $code }
log-owner-died = { $name }: holder { $holder } died holding it; the next acquirer got it
log-lost = { $name }: { $put } message(s) lost with a dead producer, { $get } with a dead consumer
log-barrier-broken = { $name }: the barrier is broken
log-pool-replaced = pool: { $n } worker(s) died and were replaced; tasks run again so far: { $retried }

## The Pool panel (src/ui/pool_panel.rs)

pool-title = Pool
pool-none = no pool yet
pool-done-label = done
pool-queue-label = queue
pool-deaths = workers died: { $died } · tasks lost { $lost } · run again { $retried }
pool-retired = retired { $n } (maxtasksperchild)
pool-failed = tasks failed { $n }
pool-counts = queued { $queued } · taken { $taken } · results waiting { $results }
pool-idle = idle
# A worker's tasks done, after their number.
pool-worker-done = { $n ->
   *[other] done
}

## The Compare tab (src/ui/compare_panel.rs)

compare-title = Compare
compare-empty = No finished run yet. Each run that ends is kept here: press m to run the scenario with the next start method, r to run it again.
compare-col-run = RUN
compare-col-method = METHOD
compare-col-workers = WORKERS
compare-col-wall = WALL
compare-col-start-p50 = START p50
compare-col-start-p99 = START p99
compare-col-all-ready = ALL READY
compare-col-helpers = HELPERS
compare-col-cpu = CPU s
compare-col-exit = EXIT
compare-col-note = NOTE
compare-runs-of = { $n } { $n ->
    [one] run
   *[other] runs
} of { $title }
compare-last-shown = (the last { $n } shown)
compare-others = { $n } of other scenarios (Enter)
compare-legend = START = request → first instruction · PSS/RSS = workers' peak
compare-chart-start = Start latency p50 (µs)
compare-chart-pss = Workers' PSS (MiB)
compare-failed = failed
compare-killed = { $n ->
    [one] { $n } worker killed
   *[other] { $n } workers killed
}

## Shared resources (src/ui/resource_panel.rs). QUEUE, LOCK, EVENT… are
## multiprocessing's class names and stay as the program writes them.

res-title = Shared resources
res-none = no shared resources yet
res-foreign = a foreign program: no queue, lock or pool panels (mpdash reads those from its own primitives)
res-manager = server pid { $pid } · { $clients } { $clients ->
    [one] client
   *[other] clients
} · { $objects } { $objects ->
    [one] object
   *[other] objects
}
res-manager-tcp = tcp port { $port }
res-manager-refused = refused { $n }
res-queue-rates = put { $put }/s get { $get }/s
res-queue-waiting = waiting to { $who }
res-queue-op = { $op }: { $who }
res-queue-lost = lost { $n } (dead producer { $put }, dead consumer { $get })
res-nobody-waiting = nobody waiting
res-n-waiting = { $n } waiting
res-waiting = waiting: { $names }
res-waiting-some = waiting: { $names }, … ({ $n } in all)
res-held-by = held by { $name }
res-held-for = for { $time }
res-free = free
res-lock-stats = { $n } acquired, { $pct }% contended
res-owner-died = owner died ×{ $n } (last { $last })
res-sem-value = value { $value }
res-acquired = { $n } acquired
res-event-set = set
res-event-clear = clear
res-barrier = { $arrived } arrived · passed { $passes }×
res-barrier-broken = BROKEN
res-pipe-one-way = (one-way)
res-value-with-lock = with lock
res-calls = { $n } { $n ->
    [one] call
   *[other] calls
}
# "calls" after a right-aligned number.
res-calls-word = { $n ->
   *[other] calls
}
res-mean = mean { $time }

## What to watch for a program mpdash did not write (src/session/command.rs)

explain-attached = A program already running, not started by mpdash: process { $pid } (`{ $cmd }`) and every process below it, found in /proc as they start and end: CPU, memory, parents, states. The Python ones are read from outside with py-spy, never paused: the STACK panel shows the selected process's threads and frames (the program's own line marked), WHERE says where each one is or what it waits for. Quitting detaches: nothing is stopped or killed. r attaches again.
explain-python = A CPython program, run as the root of this run: `{ $cmd }`, with mpdash's probe (a sitecustomize.py in a private directory on PYTHONPATH, for this run only). Processes carry Python's names and roles; the Queues, Locks, RLocks, Semaphores, Events and Barriers the program made are shown by the names it gave them, with puts and gets, holders and waiters; WAITING ON says what each process is blocked on and at which line. When the program can never move again (two locks taken in opposite orders, a join before a queue is drained, a barrier short of a party), the red banner says why instead of hanging. r runs it again.
explain-foreign = A foreign program, run as the root of this run: `{ $cmd }`. mpdash finds its processes in /proc (its process group and the root's descendants) and shows CPU, RSS, PIDs and parents, states and exit statuses; when it ends or you quit, whatever it left is killed, as for a scenario. There are no queue, lock or pool panels: mpdash reads those from its own primitives, which a foreign program does not use (a Python program is probed unless --no-probe). r runs the command again.
explain-python-tail = Run as `{ $cmd }`, with mpdash's probe: processes by Python's names and roles, the program's objects by the names it gave them, WAITING ON with the line, and the reason when it can never move again.

## The header (src/ui/header.rs) and the tabs (src/app/mod.rs)

tab-live = Live
tab-compare = Compare
tab-scaling = Scaling
tab-log = Log
status-starting = starting
status-running = running { $time }
status-ended = ended after { $time }
status-finished = finished in { $time }
status-failed = failed (exit { $code }) after { $time }
status-cannot-start = cannot start: { $error }
header-run = run { $run }
header-at = AT { $secs } s
header-rate = { $hz } Hz · { $cpus } CPUs
header-rate-ended = at the end · { $cpus } CPUs
header-mem = mem { $used } / { $total }
slider-keys = ← → step · space: now
slider-at = at { $secs } s

## Notices on the hint bar and the Log's own lines (src/app/mod.rs, src/app/update.rs)

notice-select-first = select a running process of this run first (↑/↓)
notice-replay = a replay of { $file }: nothing runs (← → step through it, q quits)
notice-attached-no-choice = attached to a running program: no start method, scaling or scenario to choose (r attaches again)
notice-foreign-no-choice = watching a foreign command: no start method, scaling or scenario to choose (r reruns it)
notice-quit-ask = quit and kill the run's processes? y / n
notice-no-samples = no samples of this run to step through yet
notice-newest = this is the newest moment (← steps back)
notice-back-to-live = back to live
notice-at = at { $secs } s, sample { $sample } (← → step, space: back to now)
notice-kill-ask = SIGKILL { $name } (pid { $pid })? y / n
notice-stopped = { $name } (pid { $pid }) stopped
notice-continued = { $name } (pid { $pid }) continued
notice-kill-sent = SIGKILL sent to { $name } (pid { $pid })
notice-not-killed = { $name } not killed: only y confirms
notice-not-quitting = not quitting: only y confirms
notice-log-whole-screen = the Log has the whole screen already
notice-sorted = processes sorted by { $key }
notice-sorted-reversed = processes sorted by { $key }, reversed
notice-ended-hidden = ended processes hidden (h shows them)
notice-ended-shown = ended processes shown
notice-compare-group = Compare: runs of { $title }
notice-frozen = frozen: ← → step through the run, space: back to now
notice-rate = sampling at { $hz } Hz
notice-no-scaling = this scenario has no [scaling] table (try scenarios/scaling.toml)
notice-no-pool = this scenario has no pool: +/- set pool workers
notice-workers = { $n } pool workers for the next run (r to rerun now)
sort-start = start order
sort-name = name
log-attached-ended = the attached program ended after { $secs } s (its exit status went to its own parent)
log-run-finished = run { $run } finished after { $secs } s
log-run-failed = run { $run } failed (exit { $code }) after { $secs } s
log-run-stopped = run { $run } stopped before its end (its processes killed for the next run)

## The process table (src/ui/process_panel.rs)

procs-title = Processes
procs-ended-hidden = { $n } ended hidden (h)
procs-more = ↓ { $n } more
procs-threads-folded = threads folded (short screen)
procs-note-cpu = CPU% = percent of one core
procs-note-start = START = request → first instruction
col-pid = PID
col-os-ppid = OS PPID
col-parent = PARENT
col-name = NAME
col-method = METHOD
col-state = STATE
col-history = HISTORY
col-start = START
col-task = TASK
col-waiting-on = WAITING ON
col-where = WHERE
state-exited = exited { $code }
state-ended = ended
state-killed = killed { $signal }
state-starting = starting
state-running = running
state-sleeping = sleeping
state-stopped = stopped
state-zombie = zombie
state-zombie-exited = zombie exit { $code }
state-zombie-killed = zombie { $signal }
state-pool-stopped = stopped by its pool
state-thread = thread
task-current = #{ $task } ({ $done } done)
task-done = { $done } done

## The STACK panel (src/ui/stack_panel.rs, src/telemetry/stacks/view.rs)
## and the diagnosis `mpdash attach` proves from stacks
## (src/telemetry/stacks/verdict.rs; its --json and headless text stay English)

stack-title = Stack
stack-how = stacks are read every half second from outside; select a Python process
stack-not-recorded = no stacks were recorded for this process
stack-no-thread = no Python thread
stack-running = running
stack-idle = idle
stack-waits = waits:
stack-outer-frames = { $n ->
    [one] { $n } outer frame
   *[other] { $n } outer frames
}
stack-with-timeout = with a timeout
stack-not-python = not a Python process
stack-refused = refused: { $why }; fix: run mpdash as the same user as the program (and, under Yama, `sudo sysctl kernel.yama.ptrace_scope=0`), or as root / with CAP_SYS_PTRACE (`sudo setcap cap_sys_ptrace+ep $(which mpdash)`); in a container add --cap-add SYS_PTRACE
stack-unreadable = Python stacks not readable: { $why }
op-queue-feeder = queue feeder
op-pool-result = pool result
op-manager-call = manager call
op-wait-for-child = wait for child
attach-pool-worker-idle = a pool worker waiting for its next task
attach-library-thread = the library's own thread, or at exit
# $n ≥ 2: the processes of the cycle.
attach-deadlock = deadlock: { $n } processes each hold a lock the next one waits for
attach-cycle-step = { $name } → lock { $lock } → { $holder }
attach-waits-for-lock = { $name } waits at { $at } for lock { $lock }, held by { $holder }
attach-nobody-can-serve = nobody can serve: every process has waited for { $secs } s and the tree used no CPU
attach-waits = { $name } waits: { $what }

## Titles of what mpdash did not write (src/session/command.rs), the
## dashboard's own notices (src/cli/dashboard.rs) and the Log's run line

title-attached = attach { $pid }: { $cmd }
title-python = python: { $cmd }
title-foreign = watch: { $cmd }
notice-replay-keys = replay of { $file }: ← → step through the run, q quits
notice-run-saved = run saved to { $file } (mpdash replay { $file })
picker-error = ✗ line { $line }: { $message }
log-run-header = ── run { $run } of { $title } with { $method } ──

## The Scaling tab (src/ui/scaling_panel.rs); curve labels are the measurement's

scaling-title = Scaling
scaling-subtitle = speedup against workers · the GIL curve is simulated
scaling-none-yet = No measurement yet: press x to run the same CPU-bound work with 1…N workers as processes, as threads sharing a simulated GIL, and as free threads.
scaling-no-table = This scenario has no [scaling] table: open scenarios/scaling.toml and press x.
scaling-ideal-long = ideal (min of workers, cores)
scaling-ideal = ideal
scaling-cores = { $n ->
    [one] { $n } core
   *[other] { $n } cores
}
scaling-busy-machine = the machine was busy: other processes used up to { $worst }% of a core during { $n } of these points (over { $limit }%), so their speedups are not trustworthy
scaling-no-gil-cost = CPython { $version } with no GIL: one thread takes { $cost }× the time of the GIL'd build
scaling-axis-workers = workers
scaling-axis-speedup = speedup
# Columns: the mode in 16, W in 2, the wall time in 7, the speedup.
scaling-points-header = { " " }MODE            W   WALL   SPEEDUP
scaling-points-title = Points
scaling-rows = { $first }–{ $last } of { $total } (↑/↓)
scaling-mode-processes = processes
scaling-mode-gil-threads = GIL threads
scaling-mode-free-threads = free threads
scaling-busy = busy
scaling-gil-note = simulated GIL: 5 ms turns
scaling-cpython-note = CPython, 1/10 of the work
scaling-busy-note = ! busy machine: not trustworthy
curve-processes = processes
curve-gil-threads = threads + GIL (simulated)
curve-free-threads = free threads
curve-cpython-threads = CPython threads
curve-cpython-processes = CPython multiprocessing
curve-gil-on = GIL on
curve-gil-off = GIL off

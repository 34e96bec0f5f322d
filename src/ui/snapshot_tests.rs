//! The whole dashboard drawn on ratatui's `TestBackend` from fixed states, one
//! snapshot per state, with checks on the colours that carry meaning.

use std::sync::Arc;
use std::time::Duration;

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use crate::app::{
    Action, App, DataAction, NavAction, PickerAction, RunAction, SettingsAction, TreeAction,
};
use crate::i18n::{Lang, with_lang};
use crate::runtime::board::{ProcState, Role, StartMethod};
use crate::scenario::{Overrides, parse};
use crate::t;
use crate::telemetry::board_view::{PoolView, ProcRow, QueueView};
use crate::telemetry::snapshot::{Live, Snapshot, SystemView};

/// The app on a scenario file, with run 1 started under fork.
fn started(file: &str, text: &str, ov: &Overrides) -> App {
    let sc = parse(file, text, ov).unwrap();
    let mut app = App::new(Arc::new(sc), 4.0);
    app.update(Action::Run(RunAction::RunStarted {
        run: 1,
        method: StartMethod::Fork,
    }));
    app
}

fn pool_app() -> App {
    let ov = Overrides {
        workers: Some(2),
        ..Default::default()
    };
    started(
        "scenarios/pool.toml",
        include_str!("../../scenarios/pool.toml"),
        &ov,
    )
}

fn row(slot: u32, name: &str, role: Role, pid: i32, parent: i32) -> ProcRow {
    ProcRow {
        slot,
        name: name.into(),
        role: Some(role),
        method: Some(StartMethod::Fork),
        index: slot,
        pid,
        os_ppid: parent,
        logical_ppid: parent,
        state: ProcState::Running,
        start_us: Some(120.0 + slot as f64 * 10.0),
        ready_us: Some(150.0),
        ..Default::default()
    }
}

fn running_sample() -> Snapshot {
    let mut procs = vec![
        row(0, "main", Role::Main, 100, 99),
        row(1, "pool worker 1", Role::PoolWorker, 101, 100),
        row(2, "pool worker 2", Role::PoolWorker, 102, 100),
    ];
    procs[0].start_us = Some(1100.0);
    procs[1].current_task = Some(34);
    procs[1].tasks_done = 17;
    procs[2].current_task = Some(35);
    procs[2].tasks_done = 17;
    let mut s = Snapshot {
        run: 1,
        elapsed: Duration::from_millis(3200),
        procs,
        pool: Some(PoolView {
            name: "pool".into(),
            workers: 2,
            total: 64,
            done: 34,
            tasks: QueueView {
                depth: 28,
                capacity: 64,
                puts: 64,
                gets: 36,
            },
            results: QueueView::default(),
            ..Default::default()
        }),
        system: SystemView {
            cpus: 2,
            cpu_pct: 99.0,
            per_core: vec![99.0, 100.0],
            mem_used: 400 << 20,
            mem_total: 24 << 30,
        },
        ..Default::default()
    };
    for (pid, cpu, state) in [(100, 0.0, 'S'), (101, 99.0, 'R'), (102, 100.0, 'R')] {
        s.live.insert(
            pid,
            Live {
                cpu_pct: cpu,
                rss_bytes: 1_900_000,
                threads: 1,
                state,
                zombie_exit: None,
            },
        );
    }
    s
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| super::draw(f, app)).unwrap();
    t
}

/// The whole screen as text, a line per row.
fn text_of(buf: &Buffer) -> String {
    let w = buf.area.width;
    (0..buf.area.height)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

fn find(buf: &Buffer, text: &str) -> (u16, u16) {
    let w = buf.area.width;
    for y in 0..buf.area.height {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        if let Some(i) = line.find(text) {
            return (line[..i].chars().count() as u16, y);
        }
    }
    panic!("{text:?} not on screen");
}

#[test]
fn running_pool_wide() {
    let mut app = pool_app();
    for _ in 0..3 {
        app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    }
    app.update(Action::Data(DataAction::Output(
        "Pool(2).map(primes, 64 chunks of [0, 50000000), chunksize=1) with fork".into(),
    )));
    let t = render(&app, 130, 32);
    assert_snapshot!(t.backend());
    let (x, y) = find(t.backend().buffer(), "running");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Green);
}

#[test]
fn running_pool_at_80_by_24() {
    let mut app = pool_app();
    app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn finished_with_a_killed_worker() {
    let mut app = pool_app();
    let mut s = running_sample();
    for p in s.procs.iter_mut() {
        p.state = ProcState::Exited;
        p.exitcode = Some(0);
        p.current_task = None;
    }
    s.procs[2].exitcode = Some(-9);
    s.live.clear();
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app.update(Action::Run(RunAction::RunEnded {
        exit: 0,
        wall: Duration::from_millis(6370),
        rows: Vec::new(),
    }));
    let t = render(&app, 100, 26);
    assert_snapshot!(t.backend());
    let (x, y) = find(t.backend().buffer(), "killed SIGKILL");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
    let (x, y) = find(t.backend().buffer(), "finished in 6.4 s");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Cyan);
}

#[test]
fn pool_with_a_retired_worker_a_dead_one_and_failed_tasks() {
    let mut app = pool_app();
    let mut s = running_sample();
    let mut retired = row(3, "pool worker 1", Role::PoolWorker, 98, 100);
    retired.state = ProcState::Exited;
    retired.exitcode = Some(0);
    let mut dead = row(4, "pool worker 2", Role::PoolWorker, 97, 100);
    dead.state = ProcState::Exited;
    dead.exitcode = Some(-9);
    s.procs.push(retired);
    s.procs.push(dead);
    if let Some(p) = s.pool.as_mut() {
        p.lost = 1;
        p.retried = 1;
        p.failed = 2;
    }
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    let t = render(&app, 130, 34);
    assert_snapshot!(t.backend());
    let (x, y) = find(
        t.backend().buffer(),
        "workers died: 1 · tasks lost 1 · run again 1",
    );
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
    let (x, y) = find(
        t.backend().buffer(),
        "retired 1 (maxtasksperchild) · tasks failed 2",
    );
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Yellow);
}

#[test]
fn empty_before_the_first_sample() {
    let app = pool_app();
    assert_snapshot!(render(&app, 100, 24).backend());
}

#[test]
fn help_over_the_dashboard() {
    let mut app = pool_app();
    app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    app.update(Action::Nav(NavAction::ToggleHelp));
    let t = render(&app, 100, 30);
    assert_snapshot!(t.backend());
    find(t.backend().buffer(), "Switch to the next start method");
}

#[test]
fn resources_with_an_owner_died_lock_and_a_broken_barrier() {
    use crate::telemetry::board_view::ResourceView;
    let mut app = started(
        "scenarios/sync.toml",
        include_str!("../../scenarios/sync.toml"),
        &Overrides::default(),
    );
    let mut s = running_sample();
    s.pool = None;
    s.resources = vec![
        ResourceView::Queue {
            name: "work".into(),
            joinable: false,
            depth: 32,
            capacity: 32,
            puts: 120,
            gets: 88,
            lost_put: 1,
            lost_get: 0,
            waiting_getters: 0,
            waiting_putters: 2,
        },
        ResourceView::Lock {
            name: "lock".into(),
            recursive: false,
            holder_pid: 101,
            holder_tid: 101,
            held_ms: Some(1500),
            waiters: 3,
            acquisitions: 40,
            contended: 10,
            owner_died: 1,
            last_dead_owner: 102,
        },
        ResourceView::Semaphore {
            name: "two at a time".into(),
            bounded: true,
            value: 0,
            bound: 2,
            waiters: 4,
            acquisitions: 2,
        },
        ResourceView::Event {
            name: "go".into(),
            set: false,
            waiters: 4,
        },
        ResourceView::Barrier {
            name: "meet".into(),
            parties: 4,
            arrived: 2,
            broken: true,
            waiters: 2,
            passes: 0,
        },
        ResourceView::Pipe {
            name: "conn".into(),
            duplex: true,
            msgs: [0, 1],
            bytes: [0, 19],
        },
        ResourceView::Value {
            name: "counter".into(),
            typecode: 'i',
            values: vec!["40213".into()],
            len: 1,
            lock: true,
            is_array: false,
        },
    ];
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    let t = render(&app, 130, 34);
    assert_snapshot!(t.backend());
    let (x, y) = find(t.backend().buffer(), "owner died");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
    let (x, y) = find(t.backend().buffer(), "BROKEN");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
    find(t.backend().buffer(), "held by pool worker 1 for 1.5 s");
}

#[test]
fn manager_panel_with_objects_and_method_rates() {
    use crate::telemetry::board_view::{ManagerMethodView, ManagerObjectView, ResourceView};
    let mut app = started(
        "scenarios/manager.toml",
        include_str!("../../scenarios/manager.toml"),
        &Overrides::default(),
    );
    let manager = |calls: u64| ResourceView::Manager {
        name: "manager".into(),
        server_pid: 4242,
        tcp_port: 50000,
        clients: 2,
        refused: 3,
        objects: vec![
            ManagerObjectView {
                name: "d".into(),
                kind: "dict".into(),
                len: Some(3),
                calls: 3,
            },
            ManagerObjectView {
                name: "counter".into(),
                kind: "Value".into(),
                len: Some(1),
                calls: 2 * calls,
            },
        ],
        methods: vec![
            ManagerMethodView {
                method: "_getvalue".into(),
                calls,
                total_ns: calls * 45_000,
            },
            ManagerMethodView {
                method: "set".into(),
                calls,
                total_ns: calls * 44_000,
            },
        ],
    };
    let mut s = running_sample();
    s.pool = None;
    s.resources = vec![manager(1000)];
    app.update(Action::Data(DataAction::Sample(Box::new(s.clone()))));
    s.elapsed += std::time::Duration::from_secs(1);
    s.resources = vec![manager(12_000)];
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    let t = render(&app, 130, 34);
    assert_snapshot!(t.backend());
    find(
        t.backend().buffer(),
        "server pid 4242 · 2 clients · 2 objects · tcp port 50000",
    );
    find(t.backend().buffer(), "11.0k/s  mean 45 µs");
    let (x, y) = find(t.backend().buffer(), "MANAGER");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Magenta);
}

#[test]
fn compare_tab_with_three_runs() {
    use crate::telemetry::stats::RunStats;
    let mut app = pool_app();
    app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    for (i, (m, start, pss, rss)) in [
        (StartMethod::Fork, 4639.0, 228.7, 2057.7),
        (StartMethod::Spawn, 13589.0, 3.9, 24.5),
        (StartMethod::Forkserver, 131.0, 1.8, 13.2),
    ]
    .into_iter()
    .enumerate()
    {
        app.runs.push(RunStats {
            run: i as u64 + 1,
            scenario: app.scenario.title.clone(),
            method: m,
            workers: 8,
            wall_s: 0.54,
            start_p50_us: start,
            start_p99_us: start * 1.5,
            all_ready_ms: 37.1,
            workers_pss_mib: pss,
            workers_rss_mib: rss,
            helpers: usize::from(m == StartMethod::Forkserver),
            cpu_s: 0.16,
            exit: 0,
            killed: 0,
            titles: Default::default(),
        });
    }
    // A run of another scenario is not mixed in; a run with a killed worker
    // is marked.
    let mut other = app.runs[0].clone();
    other.scenario = "another scenario".into();
    other.run = 4;
    app.runs.push(other);
    let mut killed = app.runs[1].clone();
    killed.run = 5;
    killed.killed = 1;
    killed.workers_pss_mib = 0.7;
    app.runs.push(killed);
    app.update(Action::Nav(NavAction::ShowTab(crate::app::Tab::Compare)));
    let t = render(&app, 130, 30);
    assert_snapshot!(t.backend());
    find(t.backend().buffer(), "1 worker killed");
    find(t.backend().buffer(), "1 of other scenarios (Enter)");
    // Enter shows the other scenario's run, then back to the current one.
    app.update(Action::Tree(TreeAction::ToggleCollapse));
    let t2 = render(&app, 130, 30);
    find(t2.backend().buffer(), "1 run of another scenario");
    app.update(Action::Tree(TreeAction::ToggleCollapse));
    assert_eq!(app.compare.group, None);
    find(t.backend().buffer(), " 0.7 ");
    assert!(
        !format!("{:?}", t.backend()).contains("│4 "),
        "the other scenario's run is not in the table"
    );
    find(t.backend().buffer(), "forkserver");
    let (x, y) = find(t.backend().buffer(), " 2 Compare ");
    assert_eq!(
        t.backend().buffer()[(x + 1, y)].bg,
        Color::Cyan,
        "the current tab is highlighted"
    );
}

#[test]
fn compare_tab_before_any_run_ends() {
    let mut app = pool_app();
    app.update(Action::Nav(NavAction::NextTab));
    assert_snapshot!(render(&app, 90, 20).backend());
}

#[test]
fn scaling_tab_with_a_measurement() {
    use crate::scenario::scaling::{Mode, Point};
    let sc = parse(
        "scenarios/scaling.toml",
        include_str!("../../scenarios/scaling.toml"),
        &Overrides::default(),
    )
    .unwrap();
    let mut app = App::new(Arc::new(sc), 4.0);
    app.update(Action::Run(RunAction::ScaleStarted { run: 2 }));
    let mut s = running_sample();
    s.run = 2;
    s.pool = None;
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    for (mode, walls) in [
        (Mode::Processes, [0.6, 0.31, 0.31, 0.31]),
        (Mode::GilThreads, [0.6, 0.61, 0.62, 0.62]),
        (Mode::FreeThreads, [0.6, 0.30, 0.31, 0.32]),
    ] {
        for (i, w) in walls.iter().enumerate() {
            let p = Point {
                mode,
                workers: i + 1,
                wall_s: *w,
                speedup: walls[0] / w,
                simulated: mode == Mode::GilThreads,
                work_fraction: 1.0,
                python: None,
                interpreter: None,
                gil: None,
                others_cpu_pct: 3.0,
                trustworthy: true,
                single_thread_cost: None,
            };
            app.update(Action::Data(DataAction::Output(
                format!(
                    "{}{}",
                    crate::scenario::main_process::SCALE_POINT,
                    serde_json::to_string(&p).unwrap()
                )
                .into(),
            )));
        }
    }
    assert_eq!(app.scale_points.len(), 12);
    assert!(app.current.log.is_empty(), "points are parsed, not logged");
    assert_eq!(app.tab, crate::app::Tab::Scaling);
    let t = render(&app, 130, 36);
    assert_snapshot!(t.backend());
    find(t.backend().buffer(), "simulated");
}

#[test]
fn scaling_with_a_gild_and_a_free_threaded_cpython_on_a_busy_machine() {
    use crate::scenario::scaling::{Mode, Point};
    let sc = parse(
        "scenarios/scaling.toml",
        include_str!("../../scenarios/scaling.toml"),
        &Overrides::default(),
    )
    .unwrap();
    let mut app = App::new(Arc::new(sc), 4.0);
    app.update(Action::Run(RunAction::ScaleStarted { run: 2 }));
    let mut s = running_sample();
    s.run = 2;
    s.pool = None;
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    // (mode, python, gil, walls, others' CPU%)
    type Row = (Mode, Option<&'static str>, Option<bool>, [f64; 2], [f64; 2]);
    let curves: [Row; 5] = [
        (Mode::Processes, None, None, [0.6, 0.31], [2.0, 3.0]),
        (
            Mode::CpythonThreads,
            Some("3.14.0"),
            Some(true),
            [0.5, 0.51],
            [1.0, 2.0],
        ),
        (
            Mode::CpythonProcesses,
            Some("3.14.0"),
            Some(true),
            [0.5, 0.27],
            [1.0, 2.0],
        ),
        (
            Mode::CpythonThreads,
            Some("3.14.0t"),
            Some(false),
            [0.6, 0.31],
            [1.0, 2.0],
        ),
        // Two CPU hogs started meanwhile.
        (
            Mode::CpythonProcesses,
            Some("3.14.0t"),
            Some(false),
            [0.6, 0.6],
            [180.0, 150.0],
        ),
    ];
    for (mode, python, gil, walls, others) in curves {
        for i in 0..2 {
            let p = Point {
                mode,
                workers: i + 1,
                wall_s: walls[i],
                speedup: walls[0] / walls[i],
                simulated: false,
                work_fraction: if python.is_some() { 0.1 } else { 1.0 },
                python: python.map(String::from),
                interpreter: python.map(|v| format!("/opt/python{v}")),
                gil,
                others_cpu_pct: others[i],
                trustworthy: others[i] < 50.0,
                single_thread_cost: (gil == Some(false) && mode == Mode::CpythonThreads && i == 0)
                    .then_some(1.2),
            };
            app.update(Action::Data(DataAction::Output(
                format!(
                    "{}{}",
                    crate::scenario::main_process::SCALE_POINT,
                    serde_json::to_string(&p).unwrap()
                )
                .into(),
            )));
        }
    }
    assert_eq!(app.scale_points.len(), 10);
    let t = render(&app, 160, 40);
    assert_snapshot!(t.backend());
    let b = t.backend().buffer();
    find(b, "CPython threads 3.14.0t, GIL off");
    find(b, "CPython threads 3.14.0, GIL on");
    find(b, "the machine was busy");
    find(b, "3.14t proc†");
    find(b, "one thread takes 1.20×");
}

#[test]
fn threads_of_a_process_get_rows_with_their_cpu() {
    use crate::telemetry::snapshot::ThreadLive;
    let mut app = pool_app();
    let mut s = running_sample();
    s.threads.insert(
        100,
        vec![
            ThreadLive {
                tid: 100,
                name: "scenario main".into(),
                cpu_pct: 0.0,
                state: 'S',
            },
            ThreadLive {
                tid: 140,
                name: "GIL thread 1".into(),
                cpu_pct: 97.0,
                state: 'R',
            },
        ],
    );
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    let t = render(&app, 130, 30);
    let (x, _) = find(t.backend().buffer(), "↳ GIL thread 1");
    let (name_x, _) = find(t.backend().buffer(), "NAME");
    assert!(x > name_x, "thread rows sit in the NAME column");
    assert_snapshot!(t.backend());
}

#[test]
fn log_tab_after_a_worker_was_killed() {
    let mut app = pool_app();
    app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    let mut s = running_sample();
    s.elapsed = Duration::from_millis(4500);
    s.procs[2].state = ProcState::Exited;
    s.procs[2].exitcode = Some(-9);
    if let Some(p) = s.pool.as_mut() {
        p.replaced = 1;
        p.retried = 1;
    }
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app.update(Action::Nav(NavAction::ShowTab(crate::app::Tab::Log)));
    let t = render(&app, 100, 14);
    assert_snapshot!(t.backend());
    let (x, y) = find(
        t.backend().buffer(),
        "pool worker 2 (pid 102) killed by SIGKILL",
    );
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
    find(
        t.backend().buffer(),
        "pool: 1 worker(s) died and were replaced",
    );
}

#[test]
fn frozen_sorted_and_filtered() {
    let mut app = pool_app();
    let mut s = running_sample();
    s.procs
        .push(row(3, "pool worker 3", Role::PoolWorker, 103, 100));
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app.update(Action::Tree(TreeAction::CycleSort)); // by CPU: worker 2 (100 %) before worker 1 (99 %)
    app.update(Action::Tree(TreeAction::StartFilter));
    app.update(Action::Tree(TreeAction::FilterChar('w')));
    app.update(Action::Tree(TreeAction::FilterDone));
    app.update(Action::Settings(SettingsAction::ToggleFreeze));
    let t = render(&app, 100, 24);
    assert_snapshot!(t.backend());
    let (x, y) = find(t.backend().buffer(), " AT ");
    assert_eq!(t.backend().buffer()[(x, y)].bg, Color::Yellow);
    find(t.backend().buffer(), "CPU%▼");
    find(t.backend().buffer(), "filter /w");
    let (_, w2) = find(t.backend().buffer(), "pool worker 2");
    let (_, w1) = find(t.backend().buffer(), "pool worker 1");
    assert!(w2 < w1, "sorted by CPU, highest first");
}

#[test]
fn a_folded_tree_and_a_zoomed_output() {
    let mut app = pool_app();
    app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    app.update(Action::Tree(TreeAction::ToggleCollapse));
    for i in 0..30 {
        app.update(Action::Data(DataAction::Output(format!("line {i}").into())));
    }
    let t = render(&app, 80, 24);
    find(t.backend().buffer(), "main [+2]");
    app.update(Action::Nav(NavAction::CycleZoom));
    app.update(Action::Nav(NavAction::CycleZoom));
    app.update(Action::Nav(NavAction::CycleZoom));
    let t = render(&app, 80, 24);
    assert_snapshot!(t.backend());
    find(t.backend().buffer(), "line 29");
    find(t.backend().buffer(), "line 11");
}

#[test]
fn the_scenario_picker() {
    let mut app = pool_app();
    app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    app.update(Action::Picker(PickerAction::PickerItems(vec![
        (
            "scenarios/manager.toml".into(),
            "Manager: shared objects in a server process".into(),
        ),
        (
            "scenarios/pool.toml".into(),
            "Pool.map: counting primes on every core".into(),
        ),
        (
            "scenarios/broken.toml".into(),
            "✗ line 3: unknown field `titel`".into(),
        ),
    ])));
    let t = render(&app, 100, 24);
    assert_snapshot!(t.backend());
    let (x, y) = find(t.backend().buffer(), "pool.toml");
    assert_eq!(
        t.backend().buffer()[(x, y)].bg,
        Color::Rgb(40, 44, 60),
        "the current file is selected"
    );
}

#[test]
fn a_long_tree_scrolls_to_the_selection_and_a_click_picks_what_is_drawn() {
    let mut app = pool_app();
    let mut s = running_sample();
    for i in 0..100 {
        s.procs.push(row(
            3 + i,
            &format!("idle {i}"),
            Role::Process,
            200 + i as i32,
            100,
        ));
    }
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app.update(Action::Nav(NavAction::Resize(100, 30)));
    for _ in 0..70 {
        app.update(Action::Nav(NavAction::SelectNext));
    }
    let t = render(&app, 100, 30);
    // Row 70 is "idle 67" (main and two workers come first).
    let (x, y) = find(t.backend().buffer(), "idle 67");
    assert_eq!(t.backend().buffer()[(x, y)].bg, Color::Rgb(40, 44, 60));
    // A click two rows up selects what is drawn there.
    let act = super::click(&app, x, y - 2).expect("a row is drawn there");
    app.update(act);
    let t = render(&app, 100, 30);
    let (x, y) = find(t.backend().buffer(), "idle 65");
    assert_eq!(t.backend().buffer()[(x, y)].bg, Color::Rgb(40, 44, 60));
}

#[test]
fn help_scrolls_on_a_small_terminal() {
    let mut app = pool_app();
    app.update(Action::Nav(NavAction::ToggleHelp));
    let t = render(&app, 80, 24);
    assert_snapshot!(t.backend());
    find(t.backend().buffer(), "PgUp/PgDn scroll");
    find(t.backend().buffer(), "Quit");
    for _ in 0..40 {
        app.update(Action::Nav(NavAction::ScrollHelp(1)));
    }
    let t = render(&app, 80, 24);
    find(t.backend().buffer(), "Show or hide this help.");
}

#[test]
fn a_watched_foreign_program() {
    let argv: Vec<String> = ["sh", "-c", "sleep 3 | sleep 4; exit 3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut app = App::new(
        Arc::new(crate::session::command::scenario_for(&argv, false)),
        4.0,
    );
    app.source = crate::session::Source::Command(argv);
    app.update(Action::Run(RunAction::RunStarted {
        run: 1,
        method: StartMethod::Fork,
    }));
    let mut guard = row(0, "watch guard", Role::Foreign, 500, 99);
    guard.method = None;
    let sh = row(1, "sh", Role::Foreign, 501, 500);
    let mut done = row(2, "sleep", Role::Foreign, 502, 501);
    done.state = ProcState::Exited;
    done.exitcode = None;
    let killed = {
        let mut k = row(3, "sleep", Role::Foreign, 503, 501);
        k.state = ProcState::Exited;
        k.exitcode = Some(-9);
        k
    };
    let s = Snapshot {
        run: 1,
        procs: vec![guard, sh, done, killed],
        ..Default::default()
    };
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    let t = render(&app, 100, 24);
    assert_snapshot!(t.backend());
    // Nothing inside a foreign program is seen: no empty resources panel
    // takes the room (the explanation says why).
    assert!(
        !text_of(t.backend().buffer()).contains(&crate::t!("res-title")),
        "a resources panel for a program we cannot see inside"
    );
    find(t.backend().buffer(), "ended");
    let (x, y) = find(t.backend().buffer(), "killed SIGKILL");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
    // No start method to switch for a foreign program.
    app.update(Action::Run(RunAction::NextMethod));
    assert!(
        app.overlay
            .notice
            .as_deref()
            .unwrap()
            .contains("foreign command")
    );
}

/// `scenarios/stuck/lock_order.toml` in a deadlock, with the diagnosis
/// the detector makes (in this thread's language).
fn deadlock_app() -> App {
    use crate::runtime::board::{ResKind, WaitOp};
    use crate::telemetry::board_view::{ResourceView, WaitRow};
    use crate::telemetry::waits::Detector;
    let mut app = started(
        "scenarios/stuck/lock_order.toml",
        include_str!("../../scenarios/stuck/lock_order.toml"),
        &Overrides::default(),
    );
    let wait = |op, res: &str, since_s| {
        Some(WaitRow {
            escape: None,
            op,
            resource: Some(res.into()),
            kind: Some(ResKind::Lock),
            target: 0,
            since_s,
            deadline: false,
            at: None,
        })
    };
    let mut s = running_sample();
    s.pool = None;
    s.procs = vec![
        row(0, "main", Role::Main, 100, 99),
        row(1, "a", Role::Process, 101, 100),
        row(2, "b", Role::Process, 102, 100),
    ];
    s.procs[0].wait = Some(WaitRow {
        escape: None,
        op: WaitOp::Join,
        resource: None,
        kind: None,
        target: 101,
        since_s: 4.2,
        deadline: false,
        at: None,
    });
    s.procs[1].wait = wait(WaitOp::Acquire, "two", 4.0);
    s.procs[2].wait = wait(WaitOp::Acquire, "one", 4.0);
    let lock = |name: &str, holder: i32| ResourceView::Lock {
        name: name.into(),
        recursive: false,
        holder_pid: holder,
        holder_tid: holder,
        held_ms: Some(4200),
        waiters: 1,
        acquisitions: 1,
        contended: 1,
        owner_died: 0,
        last_dead_owner: 0,
    };
    s.resources = vec![lock("one", 101), lock("two", 102)];
    // The diagnosis the sampler would attach: the detector's own, on this sample.
    let mut d = Detector::new(Duration::from_secs(2));
    let now = std::time::Instant::now();
    d.observe(&s.procs, &s.resources, now);
    s.stuck = d.observe(&s.procs, &s.resources, now);
    assert!(s.stuck.is_some(), "the detector sees the cycle");
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app
}

#[test]
fn a_deadlock_with_its_banner_waiting_column_and_named_holders() {
    let mut app = deadlock_app();
    app.update(Action::Nav(NavAction::Resize(130, 34)));
    let t = render(&app, 130, 34);
    insta::assert_debug_snapshot!(t.backend());
    let buf = t.backend().buffer();
    find(buf, "DEADLOCK");
    find(buf, "Deadlock: a → two → b → one → a");
    // The time first: never the number cut off the end of a long wait.
    find(buf, "4.0 s acquire two (held by b)");
    find(buf, "4.2 s join a");
    find(buf, "held by a for 4.2 s · waiting: b");
    // The culprits' WAITING ON cells are red.
    let (x, y) = find(buf, "acquire one (held by a)");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    // The Log tab has the diagnosis too.
    assert!(
        app.events
            .iter()
            .any(|e| e.alarm && e.text.starts_with("Deadlock:"))
    );
}

#[test]
fn the_wait_for_graph_reads_as_sentences() {
    use crate::runtime::board::{ResKind, WaitOp};
    use crate::telemetry::board_view::WaitRow;
    let mut app = started(
        "scenarios/stuck/dead_producer.toml",
        include_str!("../../scenarios/stuck/dead_producer.toml"),
        &Overrides::default(),
    );
    let mut s = running_sample();
    s.pool = None;
    s.procs = vec![
        row(0, "main", Role::Main, 100, 99),
        row(1, "producer", Role::Process, 101, 100),
        row(2, "consumer", Role::Process, 102, 100),
    ];
    s.procs[0].wait = Some(WaitRow {
        escape: None,
        op: WaitOp::Join,
        resource: None,
        kind: None,
        target: 102,
        since_s: 3.0,
        deadline: false,
        at: None,
    });
    s.procs[1].state = ProcState::Exited;
    s.procs[1].exitcode = Some(-9);
    s.procs[2].wait = Some(WaitRow {
        escape: None,
        op: WaitOp::Get,
        resource: Some("work".into()),
        kind: Some(ResKind::Queue),
        target: 0,
        since_s: 3.0,
        deadline: false,
        at: None,
    });
    // The sampler puts the graph on the snapshot (judged with zombies dead).
    s.graph = crate::telemetry::waits::graph(&s.procs, &s.resources);
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app.update(Action::Nav(NavAction::Resize(120, 24)));
    assert_eq!(
        crate::app::keys::action_for(ratatui::crossterm::event::KeyCode::Char('w'), &app),
        Some(Action::Nav(NavAction::ToggleWaits))
    );
    app.update(Action::Nav(NavAction::ToggleWaits));
    let t = render(&app, 120, 24);
    insta::assert_debug_snapshot!(t.backend());
    find(
        t.backend().buffer(),
        "main → join consumer → get work (empty) → nobody can put: producer died (SIGKILL)",
    );
    // w, q or Esc close it; nothing else leaks through to the dashboard.
    let k = |c| crate::app::keys::action_for(c, &app);
    use ratatui::crossterm::event::KeyCode;
    assert_eq!(k(KeyCode::Esc), Some(Action::Nav(NavAction::ToggleWaits)));
    assert_eq!(k(KeyCode::Char('k')), None);
}

/// The text inside the box whose title starts with `title`: one string per
/// row, without the borders.
fn box_text(buf: &Buffer, title: &str) -> Vec<String> {
    let (x, y) = find(buf, title);
    let left = x - 1;
    let mut right = x;
    while right < buf.area.width && buf[(right, y)].symbol() != "┐" {
        right += 1;
    }
    let mut rows = Vec::new();
    for yy in y + 1..buf.area.height {
        if buf[(left, yy)].symbol() == "└" {
            break;
        }
        rows.push((left + 1..right).map(|c| buf[(c, yy)].symbol()).collect());
    }
    rows
}

/// Every tab at the four sizes a class uses, in English and in French, and
/// in the text panels no word cut in two: every word on screen is a whole
/// word of the text.
#[test]
fn every_tab_at_every_size_with_no_word_cut() {
    for lang in Lang::ALL {
        with_lang(lang, || every_tab_with_no_word_cut(lang));
    }
}

fn every_tab_with_no_word_cut(lang: Lang) {
    use crate::app::Tab;
    let mut app = pool_app();
    for _ in 0..3 {
        app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
    }
    let said = [
        "Pool(2).map(primes, 64 chunks of [0, 50000000), chunksize=1) with fork",
        "primes below 50000000: 3001134 (the count the main process checks against CPython's)",
    ];
    for l in said {
        app.update(Action::Data(DataAction::Output(crate::app::Printed {
            pid: 100,
            line: l.into(),
        })));
    }
    let words = |t: &str| -> Vec<String> { t.split_whitespace().map(String::from).collect() };
    let explain_words = words(app.scenario.shown_explain());
    let output_words: Vec<String> = said.iter().flat_map(|l| words(l)).collect();
    for (w, h) in [(60, 15), (80, 24), (120, 36), (200, 50)] {
        app.update(Action::Nav(NavAction::Resize(w, h)));
        for tab in Tab::ALL {
            app.update(Action::Nav(NavAction::ShowTab(tab)));
            let t = render(&app, w, h);
            // English snapshots keep their names; French ones say `fr_`.
            let prefix = if lang == Lang::En { "" } else { "fr_" };
            let suffix = format!("{prefix}{}_{w}x{h}", tab.title());
            insta::with_settings!({ snapshot_suffix => suffix }, {
                assert_snapshot!("every_tab_at_every_size_with_no_word_cut", t.backend());
            });
            if tab != Tab::Live || h < 24 {
                continue;
            }
            let buf = t.backend().buffer();
            for row in box_text(buf, &format!(" {}", t!("explain-title"))) {
                for word in words(&row) {
                    assert!(
                        explain_words.contains(&word),
                        "{w}×{h}: {word:?} cut in {row:?}"
                    );
                }
            }
            for row in box_text(buf, &format!(" {}", t!("output-title"))) {
                for word in words(&row) {
                    let whole = output_words.contains(&word) || word == "main:";
                    assert!(whole, "{w}×{h}: {word:?} cut in {row:?}");
                }
            }
        }
    }
}

/// English words of mpdash's own labels that a French screen must not
/// show (the program's output and names are the program's).
const ENGLISH_LABELS: &[&str] = &[
    "What",
    "watch",
    "Processes",
    "Output",
    "Shared",
    "resources",
    "quit",
    "rerun",
    "tabs",
    "kill",
    "help",
    "filter",
    "running",
    "sleeping",
    "done",
    "queued",
    "taken",
    "waiting",
    "DEADLOCK",
    "held",
    "free",
    "acquired",
    "Stack",
    "idle",
    "waits",
];

/// The words of a screen that are English labels.
fn english_labels(screen: &str) -> Vec<String> {
    screen
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| ENGLISH_LABELS.contains(w))
        .map(String::from)
        .collect()
}

/// The Live tab in French at the sizes a class uses: a running pool, and
/// a deadlock with its banner. Drawn in French whatever the machine's LANG.
#[test]
fn live_tab_in_french() {
    with_lang(Lang::Fr, || {
        let mut app = pool_app();
        for _ in 0..3 {
            app.update(Action::Data(DataAction::Sample(Box::new(running_sample()))));
        }
        app.update(Action::Data(DataAction::Output(
            "Pool(2).map(primes, 64 chunks of [0, 50000000), chunksize=1) with fork".into(),
        )));
        let mut deadlock = deadlock_app();
        for (w, h) in [(80, 24), (120, 36)] {
            for (name, app) in [("pool", &mut app), ("deadlock", &mut deadlock)] {
                app.update(Action::Nav(NavAction::Resize(w, h)));
                let t = render(app, w, h);
                insta::with_settings!({ snapshot_suffix => format!("{name}_{w}x{h}") }, {
                    assert_snapshot!(t.backend());
                });
                let buf = t.backend().buffer();
                let screen = text_of(buf);
                assert_eq!(
                    english_labels(&screen),
                    Vec::<String>::new(),
                    "{name} {w}×{h}"
                );
                find(buf, "Processus");
                find(buf, "quitter");
                if name == "deadlock" {
                    find(buf, "INTERBLOCAGE");
                    find(buf, "Interblocage");
                } else {
                    find(buf, "À observer");
                }
            }
        }
    });
}

/// A probed CPython program: its Pool (an unbounded task queue drawn against
/// the tasks), a worker killed mid-task named in the banner with its task,
/// and the program's other objects beside the pool (a Value read from
/// shared memory, a Pipe's messages each way, a Manager's calls).
#[test]
fn a_python_program_with_a_lost_pool_task_value_pipe_and_manager() {
    use crate::runtime::board::WaitOp;
    use crate::telemetry::board_view::{
        ManagerMethodView, ManagerObjectView, ResourceView, WaitRow,
    };
    use crate::telemetry::probe::{Facts, PyTask, lost_task};
    let argv = vec![
        "python3".to_string(),
        "scenarios/python/pool_worker_dies.py".to_string(),
    ];
    let mut app = App::new(
        Arc::new(crate::session::command::scenario_for(&argv, true)),
        4.0,
    );
    app.source = crate::session::Source::Python(argv);
    app.update(Action::Run(RunAction::RunStarted {
        run: 1,
        method: StartMethod::Fork,
    }));
    let mut s = running_sample();
    s.procs = vec![
        row(0, "MainProcess", Role::Main, 100, 99),
        row(1, "ForkPoolWorker-1", Role::PoolWorker, 101, 100),
        row(2, "ForkPoolWorker-2", Role::PoolWorker, 102, 100),
        row(3, "ForkPoolWorker-3", Role::PoolWorker, 103, 100),
    ];
    s.procs[1].state = ProcState::Exited;
    s.procs[1].exitcode = Some(-9);
    s.procs[1].tasks_done = 3;
    s.procs[2].current_task = Some(7);
    s.procs[2].tasks_done = 3;
    s.procs[0].wait = Some(WaitRow {
        escape: None,
        op: WaitOp::PoolResult,
        resource: Some("pool".into()),
        kind: None,
        target: 14,
        since_s: 0.4,
        deadline: false,
        at: Some("pool_worker_dies.py:27".into()),
    });
    s.pool = Some(PoolView {
        name: "pool".into(),
        workers: 2,
        total: 20,
        done: 6,
        tasks: QueueView {
            depth: 11,
            capacity: 0,
            puts: 20,
            gets: 9,
        },
        lost: 1,
        ..Default::default()
    });
    s.resources = vec![
        ResourceView::Value {
            name: "counter".into(),
            typecode: 'i',
            values: vec!["4000".into()],
            len: 1,
            lock: true,
            is_array: false,
        },
        ResourceView::Pipe {
            name: "here ⇄ there".into(),
            duplex: true,
            msgs: [301, 300],
            bytes: [4_515, 4_500],
        },
        ResourceView::Manager {
            name: "manager".into(),
            server_pid: 104,
            tcp_port: 0,
            clients: 2,
            refused: 0,
            objects: vec![ManagerObjectView {
                name: "d".into(),
                kind: "dict".into(),
                len: None,
                calls: 83,
            }],
            methods: vec![ManagerMethodView {
                method: "dict.__setitem__".into(),
                calls: 83,
                total_ns: 83 * 60_000,
            }],
        },
    ];
    let facts = Facts {
        lost: vec![PyTask {
            pool: "pool".into(),
            pid: 101,
            job: 0,
            index: 6,
            func: "work".into(),
            since_ns: 0,
            silent: true,
        }],
        result_waits: vec![(100, 0, "map")],
        ..Default::default()
    };
    s.stuck = lost_task(&s.procs, &facts, &s.resources);
    assert!(
        s.stuck.is_some(),
        "a lost task with a waiter is a diagnosis"
    );
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app.update(Action::Nav(NavAction::Resize(130, 40)));
    let t = render(&app, 130, 40);
    insta::assert_debug_snapshot!(t.backend());
    let buf = t.backend().buffer();
    find(buf, "LOST TASK");
    find(
        buf,
        "ForkPoolWorker-1 died (SIGKILL) while running task 6 (work)",
    );
    find(buf, "tasks lost 1");
    find(buf, "4000");
    find(buf, "here ⇄ there");
}

/// `with Pool() as p:` ends with the pool's own terminate(): its workers
/// end by SIGTERM after every task is done. That is a pool closed, drawn
/// calmly — not workers that died (it said "workers died: 2").
#[test]
fn a_pool_closed_by_its_own_terminate_is_not_workers_that_died() {
    let mut app = pool_app();
    let mut s = running_sample();
    for p in s.procs.iter_mut() {
        p.state = ProcState::Exited;
        p.exitcode = Some(if p.role == Some(Role::PoolWorker) {
            -15
        } else {
            0
        });
        p.current_task = None;
    }
    if let Some(p) = s.pool.as_mut() {
        p.done = p.total;
        p.tasks.depth = 0;
    }
    s.live.clear();
    app.update(Action::Data(DataAction::Sample(Box::new(s.clone()))));
    let t = render(&app, 100, 26);
    let text = format!("{:?}", t.backend().buffer());
    assert!(!text.contains("workers died"), "{}", t.backend());
    // A worker killed while tasks are left is still a death.
    if let Some(p) = s.pool.as_mut() {
        p.done = p.total - 1;
    }
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    let t = render(&app, 100, 26);
    assert!(
        format!("{:?}", t.backend().buffer()).contains("workers died"),
        "{}",
        t.backend()
    );
}

/// Everyone waits on an Event a timer thread of main will set: nothing
/// moves, nothing is proven — a yellow line, no red banner.
fn no_progress_app() -> App {
    use crate::runtime::board::{ResKind, WaitOp};
    use crate::telemetry::board_view::WaitRow;
    use crate::telemetry::waits::Detector;
    let mut app = started(
        "scenarios/stuck/lock_order.toml",
        include_str!("../../scenarios/stuck/lock_order.toml"),
        &Overrides::default(),
    );
    let mut s = running_sample();
    s.pool = None;
    s.procs = vec![
        row(0, "main", Role::Main, 100, 99),
        row(1, "child", Role::Process, 101, 100),
    ];
    let wait = |escape: Option<&str>| {
        Some(WaitRow {
            escape: escape.map(str::to_string),
            op: WaitOp::EventWait,
            resource: Some("ev".into()),
            kind: Some(ResKind::Event),
            target: 0,
            since_s: 3.0,
            deadline: false,
            at: Some("prog.py:12".into()),
        })
    };
    s.procs[0].wait = wait(Some("its thread Thread-1 is not waiting on the tree"));
    s.procs[1].wait = wait(None);
    let mut d = Detector::new(Duration::from_secs(2));
    let now = std::time::Instant::now();
    d.observe(&s.procs, &s.resources, now);
    assert!(
        d.observe(&s.procs, &s.resources, now + Duration::from_secs(3))
            .is_none(),
        "no proof"
    );
    s.no_progress = d.no_progress().cloned();
    assert!(s.no_progress.is_some(), "the detector sees no progress");
    app.update(Action::Data(DataAction::Sample(Box::new(s))));
    app
}

#[test]
fn no_progress_is_a_yellow_line_not_the_red_banner_and_goes_when_things_move() {
    for lang in [Lang::En, Lang::Fr] {
        with_lang(lang, || {
            let mut app = no_progress_app();
            app.update(Action::Nav(NavAction::Resize(130, 34)));
            let t = render(&app, 130, 34);
            let buf = t.backend().buffer();
            let (words, thread) = match lang {
                Lang::Fr => ("aucune avancée depuis 3.0 s", "son thread Thread-1"),
                _ => ("no progress for 3.0 s", "its thread Thread-1"),
            };
            let (x, y) = find(buf, words);
            assert_eq!(buf[(x, y)].fg, Color::Yellow);
            find(buf, "main → ");
            find(buf, thread);
            let screen: String = buf.content().iter().map(|c| c.symbol()).collect();
            for red in ["DEADLOCK", "STUCK", "INTERBLOCAGE", "BLOQUÉ"] {
                assert!(!screen.contains(red), "{red} on screen: nothing is proven");
            }
            // Something moves: the next sample has no warning, and the line goes.
            let mut s = (*app.current.snapshot).clone();
            s.no_progress = None;
            app.update(Action::Data(DataAction::Sample(Box::new(s))));
            let t = render(&app, 130, 34);
            let screen: String = t
                .backend()
                .buffer()
                .content()
                .iter()
                .map(|c| c.symbol())
                .collect();
            assert!(!screen.contains(words), "still said after a change");
        });
    }
}

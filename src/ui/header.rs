//! The header: scenario, start method, run status, machine CPU and memory.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format;
use crate::app::{App, RunStatus, Tab};
use crate::t;

/// The header's first line, and where each tab sits on it (columns
/// `start..end`), so a click lands on the tab it shows.
/// `width`: the terminal's columns (a narrow one names only the tab shown).
pub fn title(app: &App, width: u16) -> (Line<'static>, Vec<(u16, u16, Tab)>) {
    let status = match &app.current.status {
        RunStatus::Starting => Span::styled(t!("status-starting"), Style::new().fg(Color::Yellow)),
        RunStatus::Running => Span::styled(
            t!(
                "status-running",
                time = format::secs(app.current.snapshot.elapsed.as_secs_f64())
            ),
            Style::new().fg(Color::Green).bold(),
        ),
        RunStatus::Finished { wall, .. } if app.source.attached().is_some() => Span::styled(
            t!("status-ended", time = format::secs(wall.as_secs_f64())),
            Style::new().fg(Color::Cyan),
        ),
        RunStatus::Finished { exit: 0, wall } => Span::styled(
            t!("status-finished", time = format::secs(wall.as_secs_f64())),
            Style::new().fg(Color::Cyan),
        ),
        RunStatus::Finished { exit, wall } => Span::styled(
            t!(
                "status-failed",
                code = exit.to_string(),
                time = format::secs(wall.as_secs_f64())
            ),
            Style::new().fg(Color::Red).bold(),
        ),
        RunStatus::Failed(e) => Span::styled(
            t!("status-cannot-start", error = e.to_string()),
            Style::new().fg(Color::Red),
        ),
    };
    let sep = || Span::styled(" │ ", Style::new().fg(Color::DarkGray));
    // A narrow terminal names only the tab shown (the others by number),
    // so the scenario's title stays readable.
    let narrow = width < 110;
    let mut tabs = Vec::new();
    for (i, t) in Tab::ALL.iter().enumerate() {
        let current = *t == app.tab;
        let style = if current {
            Style::new().fg(Color::Black).bg(Color::Cyan).bold()
        } else {
            Style::new().fg(Color::Gray)
        };
        let text = if narrow && !current {
            format!(" {} ", i + 1)
        } else {
            format!(" {} {} ", i + 1, t.shown())
        };
        tabs.push(Span::styled(text, style));
    }
    let mut title = vec![
        Span::styled(
            " mpdash ",
            Style::new().bg(Color::Blue).fg(Color::White).bold(),
        ),
        Span::raw(" "),
        Span::styled(
            match app.source.attached() {
                Some(pid) => format!("attach {pid}"),
                None if app.source.is_probed() => python_methods(app),
                None if app.source.is_foreign() => "watch".to_string(),
                None => app.method.name().to_string(),
            },
            Style::new().fg(Color::Magenta).bold(),
        ),
        sep(),
        Span::raw(format!(
            "{} ",
            t!("header-run", run = app.current.id.to_string())
        )),
        status,
    ];
    if app.current.travel.is_some() {
        title.push(Span::styled(
            format!(
                " {} ",
                t!(
                    "header-at",
                    secs = format!("{:.2}", app.current.snapshot.elapsed.as_secs_f64())
                )
            ),
            Style::new().fg(Color::Black).bg(Color::Yellow).bold(),
        ));
    }
    // Too narrow for it all (a longer status, as in French): the run's
    // number goes, so that the tabs stay whole.
    let tabs_w: usize = tabs.iter().map(Span::width).sum();
    if title.iter().map(Span::width).sum::<usize>() + 3 + tabs_w > width as usize {
        title.remove(4);
    }
    title.push(sep());
    let mut x: u16 = title.iter().map(|s| s.width() as u16).sum();
    let mut places = Vec::new();
    for (t, span) in Tab::ALL.into_iter().zip(tabs) {
        let w = span.width() as u16;
        places.push((x, x + w, t));
        x += w;
        title.push(span);
    }
    title.push(sep());
    // The scenario's title in what is left, cut at a word with "…".
    let used = x as usize + 3;
    let room = (width as usize).saturating_sub(used);
    let name = app.scenario.shown_title();
    let shown = if name.chars().count() <= room {
        name.to_string()
    } else {
        let mut cut = String::new();
        for word in name.split(' ') {
            if cut.chars().count() + word.chars().count() + 2 > room {
                break;
            }
            if !cut.is_empty() {
                cut.push(' ');
            }
            cut.push_str(word);
        }
        if cut.is_empty() {
            String::new()
        } else {
            format!("{cut} …")
        }
    };
    title.push(Span::styled(shown, Style::new().bold()));
    (Line::from(title), places)
}

/// The start methods a Python program's processes were started with, as
/// the probe saw them (`fork`, `spawn+forkserver`), or `python` before any.
fn python_methods(app: &App) -> String {
    use crate::runtime::board::Role;
    let mut methods: Vec<&'static str> = Vec::new();
    for p in &app.current.snapshot.procs {
        if matches!(p.role, Some(Role::Main | Role::Foreign) | None) {
            continue;
        }
        if let Some(m) = p.method
            && !methods.contains(&m.name())
        {
            methods.push(m.name());
        }
    }
    if methods.is_empty() {
        "python".to_string()
    } else {
        methods.join("+")
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let (title, _) = title(app, area.width);
    let sep = || Span::styled(" │ ", Style::new().fg(Color::DarkGray));
    let sys = &app.current.snapshot.system;
    if let Some(line) = slider(app, area.width) {
        f.render_widget(Paragraph::new(vec![title, line]), area);
        return;
    }
    // Once the run has ended the meters stop: they say so, dimmed.
    let ended = matches!(app.current.status, RunStatus::Finished { .. });
    let rate = if ended {
        t!("header-rate-ended", cpus = sys.cpus)
    } else {
        t!("header-rate", hz = app.rate_hz.to_string(), cpus = sys.cpus)
    };
    let mut cores = vec![Span::styled(
        format!(" {rate} "),
        Style::new().fg(if ended { Color::DarkGray } else { Color::Gray }),
    )];
    for (i, pct) in sys.per_core.iter().enumerate() {
        cores.push(Span::raw(format!("{i}")));
        cores.push(if ended {
            core_bar(*pct).fg(Color::DarkGray)
        } else {
            core_bar(*pct)
        });
        cores.push(Span::raw(format!("{:>3.0}% ", pct)));
    }
    let so_far: usize = cores.iter().map(|s| s.width()).sum();
    if sys.mem_total > 0 && so_far + 24 <= area.width as usize {
        cores.push(sep());
        cores.push(Span::raw(t!(
            "header-mem",
            used = format::bytes(sys.mem_used),
            total = format::bytes(sys.mem_total)
        )));
    }
    let p = Paragraph::new(vec![title, Line::from(cores)]);
    f.render_widget(p, area);
}

/// Where the moment shown sits in the run, while stepping through time:
/// `◀ 3.20 s ━━━━━━●────── 10.12 s ▶  ← → step · space: now`.
fn slider(app: &App, width: u16) -> Option<Line<'static>> {
    let at = app.current.travel?;
    let n = app.current.timeline.len();
    let first = app.current.timeline.elapsed_at(0)?.as_secs_f64();
    let last = app.current.timeline.last()?.snap.elapsed.as_secs_f64();
    let now = app.current.snapshot.elapsed.as_secs_f64();
    let help = format!("  {}", t!("slider-keys"));
    let at_now = t!("slider-at", secs = format!("{now:.2}"));
    let ends = format!(" ◀ {first:.2} s  {last:.2} s ▶ {at_now}");
    let w = (width as usize)
        .saturating_sub(ends.chars().count() + help.chars().count() + 2)
        .clamp(4, 80);
    let pos = if n > 1 { at * (w - 1) / (n - 1) } else { 0 };
    Some(Line::from(vec![
        Span::styled(format!(" ◀ {first:.2} s "), Style::new().fg(Color::Gray)),
        Span::styled("━".repeat(pos), Style::new().fg(Color::Yellow)),
        Span::styled("●", Style::new().fg(Color::Yellow).bold()),
        Span::styled("─".repeat(w - 1 - pos), Style::new().fg(Color::DarkGray)),
        Span::styled(format!(" {last:.2} s ▶ "), Style::new().fg(Color::Gray)),
        Span::styled(format!("{at_now}{help}"), Style::new().fg(Color::Yellow)),
    ]))
}

fn core_bar(pct: f32) -> Span<'static> {
    const W: usize = 10;
    let filled = ((pct.clamp(0.0, 100.0) / 100.0) * W as f32).round() as usize;
    let color = if pct > 85.0 {
        Color::Red
    } else if pct > 50.0 {
        Color::Yellow
    } else {
        Color::Green
    };
    Span::styled(
        format!("▕{}{}▏", "█".repeat(filled), " ".repeat(W - filled)),
        Style::new().fg(color).add_modifier(Modifier::empty()),
    )
}

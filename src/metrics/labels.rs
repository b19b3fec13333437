//! The bounded label sets. Every label value comes from one of these
//! tables, never from the request: a client sending a million distinct
//! paths, methods or agents still lands in the same few series.

use crate::close_reason::CloseReason;
use crate::http::Method;
use crate::status;

/// A label set: a fixed list of values, each with an index into counters.
pub trait Label: Copy + Sized + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    fn index(self) -> usize;
}

/// The method label: a known method, or `other` when none was parsed.
#[derive(Debug, Clone, Copy, Eq)]
pub enum MethodLabel {
    Known(Method),
    Other,
}

/// Compared by index, one byte: the derived comparison took the variant
/// apart first (15 instructions a pipelined request, which compares the
/// labels of its run: callgrind, examples/hotpath.rs).
impl PartialEq for MethodLabel {
    #[inline(always)]
    fn eq(&self, other: &MethodLabel) -> bool {
        self.index() == other.index()
    }
}

impl MethodLabel {
    pub fn of(m: Option<Method>) -> MethodLabel {
        m.map_or(MethodLabel::Other, MethodLabel::Known)
    }
}

const METHODS: [MethodLabel; 10] = [
    MethodLabel::Known(Method::Get),
    MethodLabel::Known(Method::Head),
    MethodLabel::Known(Method::Post),
    MethodLabel::Known(Method::Put),
    MethodLabel::Known(Method::Delete),
    MethodLabel::Known(Method::Options),
    MethodLabel::Known(Method::Patch),
    MethodLabel::Known(Method::Trace),
    MethodLabel::Known(Method::Connect),
    MethodLabel::Other,
];

impl Label for MethodLabel {
    const ALL: &'static [MethodLabel] = &METHODS;

    fn as_str(self) -> &'static str {
        match self {
            MethodLabel::Known(m) => m.as_str(),
            MethodLabel::Other => "other",
        }
    }

    #[inline(always)]
    fn index(self) -> usize {
        match self {
            MethodLabel::Known(m) => m as usize,
            MethodLabel::Other => METHODS.len() - 1,
        }
    }
}

/// The route pattern a request matched, as [`crate::routes::Routes::classify`]
/// decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Root,
    Echo,
    UserAgent,
    Files,
    Metrics,
    Healthz,
    /// Anything else: 404s, `OPTIONS *`, requests that never parsed.
    Other,
}

impl Label for Route {
    const ALL: &'static [Route] =
        &[Route::Root, Route::Echo, Route::UserAgent, Route::Files, Route::Metrics, Route::Healthz, Route::Other];

    fn as_str(self) -> &'static str {
        match self {
            Route::Root => "/",
            Route::Echo => "/echo/{s}",
            Route::UserAgent => "/user-agent",
            Route::Files => "/files/{name}",
            Route::Metrics => "/metrics",
            Route::Healthz => "/healthz",
            Route::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The status label set: every status in the table the server answers
/// from ([`status::SENT`]) but the interim 1xx, and 499 (client closed
/// first, nginx's convention) in its place, then `other` as a guard.
const STATUS_COUNT: usize = final_statuses() + 2;
/// Its codes, 0 for `other`, and their texts.
const STATUS_CODES: [u16; STATUS_COUNT] = status_set().0;
const STATUS_NAMES: [&str; STATUS_COUNT] = status_set().1;
/// Each code's index in the set (`other` for any code not in it): a
/// look-up, one load per request.
const STATUS_INDEX: [u8; 600] = {
    let mut index = [(STATUS_COUNT - 1) as u8; 600];
    let mut i = 0;
    while i < STATUS_COUNT - 1 {
        index[STATUS_CODES[i] as usize] = i as u8;
        i += 1;
    }
    index
};

/// How many statuses of the table are final (not 1xx).
const fn final_statuses() -> usize {
    let (mut n, mut i) = (0, 0);
    while i < status::SENT.len() {
        n += !status::is_interim(status::SENT[i].0) as usize;
        i += 1;
    }
    n
}

/// The table's final statuses with 499 inserted in order, then `other`.
const fn status_set() -> ([u16; STATUS_COUNT], [&'static str; STATUS_COUNT]) {
    let mut codes = [0; STATUS_COUNT];
    let mut names = ["other"; STATUS_COUNT];
    let (mut i, mut n, mut gone) = (0, 0, false);
    while i < status::SENT.len() {
        let (code, name) = status::SENT[i];
        if !gone && code > status::CLIENT_GONE {
            (codes[n], names[n], gone, n) = (status::CLIENT_GONE, "499", true, n + 1);
        }
        if !status::is_interim(code) {
            (codes[n], names[n], n) = (code, name, n + 1);
        }
        i += 1;
    }
    (codes, names)
}

/// A response status as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(u8);

impl Status {
    #[inline]
    pub fn of(code: u16) -> Status {
        Status(STATUS_INDEX.get(usize::from(code)).copied().unwrap_or((STATUS_COUNT - 1) as u8))
    }

    pub fn code(self) -> Option<u16> {
        Some(STATUS_CODES[usize::from(self.0)]).filter(|&c| c != 0)
    }
}

const STATUSES: [Status; STATUS_COUNT] = {
    let mut all = [Status(0); STATUS_COUNT];
    let mut i = 0;
    while i < all.len() {
        all[i] = Status(i as u8);
        i += 1;
    }
    all
};

impl Label for Status {
    const ALL: &'static [Status] = &STATUSES;

    fn as_str(self) -> &'static str {
        STATUS_NAMES[usize::from(self.0)]
    }

    fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Why a connection ended: the connection's own [`CloseReason`], so the
/// metric and the server log's close lines use the same words.
impl Label for CloseReason {
    const ALL: &'static [CloseReason] = &CloseReason::ALL;

    fn as_str(self) -> &'static str {
        CloseReason::as_str(self)
    }

    fn index(self) -> usize {
        CloseReason::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes_are_dense<L: Label + std::fmt::Debug>() {
        for (i, l) in L::ALL.iter().enumerate() {
            assert_eq!(l.index(), i, "{l:?}");
            assert!(!l.as_str().is_empty());
        }
    }

    #[test]
    fn every_label_set_is_indexed_densely() {
        indexes_are_dense::<MethodLabel>();
        indexes_are_dense::<Route>();
        indexes_are_dense::<Status>();
        indexes_are_dense::<CloseReason>();
    }

    #[test]
    fn statuses_outside_the_set_are_other() {
        assert_eq!(Status::of(404).as_str(), "404");
        assert_eq!(Status::of(404).code(), Some(404));
        assert_eq!(Status::of(418).as_str(), "other");
        assert_eq!(Status::of(0).as_str(), "other");
        for code in 100..600 {
            let s = Status::of(code);
            assert!(s.as_str() == "other" || s.as_str() == code.to_string());
            let listed = STATUS_CODES.iter().position(|&c| c == code).unwrap_or(STATUS_CODES.len() - 1);
            assert_eq!(usize::from(s.0), listed, "{code}: the match and the table agree");
        }
    }

    #[test]
    fn every_status_the_server_sends_has_its_own_label() {
        for code in 200..600 {
            if crate::status::reason(code) != "Unknown" {
                assert_eq!(Status::of(code).code(), Some(code), "{code}");
            }
        }
    }

    #[test]
    fn routes_are_patterns_never_paths() {
        use crate::routes::classify_path;
        assert_eq!(classify_path(b"/echo/anything/at/all").as_str(), "/echo/{s}");
        assert_eq!(classify_path(b"/files/x.bin").as_str(), "/files/{name}");
        assert_eq!(classify_path(b"/nope").as_str(), "other");
        assert_eq!(classify_path(b"/echo").as_str(), "other");
    }
}

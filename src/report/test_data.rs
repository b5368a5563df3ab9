//! A small, fixed set of metrics for renderer tests: Japanese names, markup in titles,
//! recurrence, open SLA breaches and bad data.

use chrono::FixedOffset;

use crate::metrics::testing::*;
use crate::metrics::{Metrics, MetricsBuilder, MetricsOptions, Period, SlaTargets};
use crate::model::{Category, Priority};

pub(crate) const DAY: i64 = 24 * 60;

/// What `render` writes for [`sample`], as text.
pub(crate) fn rendered(
    render: impl FnOnce(&Metrics, &mut Vec<u8>) -> std::io::Result<()>,
) -> String {
    let mut out = Vec::new();
    render(&sample(), &mut out).expect("write");
    String::from_utf8(out).expect("UTF-8")
}

pub(crate) fn sample() -> Metrics {
    use Category::*;
    use Priority::*;
    let incidents = [
        on(
            titled(
                resolve(ack(inc(1, Failure, Critical, 0), at(10)), at(200)),
                "データベース接続タイムアウト db-01",
            ),
            &["データベース"],
        ),
        on(
            titled(
                resolve(
                    ack(inc(2, Failure, Critical, 3 * DAY), at(3 * DAY + 20)),
                    at(3 * DAY + 400),
                ),
                "データベース接続タイムアウト db-02",
            ),
            &["データベース", "api"],
        ),
        on(
            titled(
                resolve(
                    ack(inc(3, Error, High, 8 * DAY), at(8 * DAY + 5)),
                    at(8 * DAY + 90),
                ),
                "<script>alert('x')</script> in | header",
            ),
            &["web|front"],
        ),
        on(
            titled(
                ack(inc(4, Performance, Medium, 9 * DAY), at(9 * DAY + 30)),
                "<script>alert('x')</script> API latency | 950ms",
            ),
            &["api"],
        ),
        on(
            titled(inc(5, Security, High, 10 * DAY - 45), "不審なログイン試行"),
            &["認証サービス"],
        ),
        on(
            titled(
                resolve(inc(6, Request, Low, 2 * DAY), at(2 * DAY + 30)),
                "Password reset for *bob*",
            ),
            &["認証サービス"],
        ),
        on(
            titled(
                resolve(inc(7, Change, Medium, 15 * DAY), at(15 * DAY - 10)),
                "Deploy v2.3",
            ),
            &["api"],
        ),
        on(
            titled(
                resolve(
                    ack(inc(8, Failure, Critical, 16 * DAY), at(16 * DAY + 40)),
                    at(16 * DAY + 600),
                ),
                "データベース接続タイムアウト db-03",
            ),
            &["データベース"],
        ),
    ];
    let opts = MetricsOptions {
        since: None,
        until: None,
        now: at(16 * DAY + 700),
        trend: Period::Week,
        top_n: 10,
        utc_offset: FixedOffset::east_opt(9 * 3600).expect("valid offset"),
    };
    let mut b = MetricsBuilder::new(opts, SlaTargets::default());
    for i in &incidents {
        b.add(i);
    }
    b.finish()
}

#!/usr/bin/env bash
# The main job, end to end, on the default database ./incidents.redb (or $INCIDENT_DB):
# generate a realistic error history, migrate it, record an incident by hand, mine
# patterns, update a copy of the knowledge base (quickstart-kb/), and write the reports.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
incident() { target/release/incident "$@"; }
N="${QUICKSTART_ERRORS:-100000}"

echo "== generate $N errors (seed 42) and migrate them"
# --extended adds hard-to-group problems (error types with digits raised from several
# files, few-valued variables); truth.jsonl names each record's problem.
incident bridge generate "$N" --seed 42 --extended --truth truth.jsonl -o error_history.json
incident bridge migrate error_history.json
incident bridge check error_history.json | tail -n 1

echo "== record the team's recent incidents by hand (times relative to now)"
ago() { date -u -d "$1 ago" +%Y-%m-%dT%H:%M:%SZ; }
raise() { # ago, category, priority, title, components...
    local at=$1 cat=$2 pri=$3 title=$4; shift 4
    incident create --at "$(ago "$at")" --category "$cat" --priority "$pri" --title "$title" \
        --components "$@"
}
if [ -z "$(incident list --all --origin manual --limit 1 --format csv | tail -n +2)" ]; then
    a=$(raise "20 days" failure critical 'データベース接続断' db_client worker_analytics)
    incident update "$a" --status in_progress --assignee sato --at "$(ago "479 hours")" >/dev/null
    incident resolve "$a" --at "$(ago "19 days")" --actions '接続プール再初期化' 'タイムアウト値調整' \
        --root-cause '接続プールの枯渇' --preventive '接続プール監視追加' >/dev/null
    b=$(raise "12 days" error high 'Slack通知失敗: invalid_token' slack_notifier)
    incident update "$b" --status in_progress --assignee tanaka --at "$(ago "287 hours")" >/dev/null
    incident resolve "$b" --at "$(ago "11 days")" --actions 'Slackトークンを再発行' \
        --root-cause 'トークン失効' --preventive 'トークン期限の監視' >/dev/null
    c=$(raise "9 days" performance medium '分析バッチの処理時間が閾値超過' worker_analytics)
    incident resolve "$c" --at "$(ago "8 days")" --actions 'バッチサイズを縮小' \
        --root-cause 'データ量の増加' >/dev/null
    d=$(raise "3 days" failure critical 'データベース接続断' db_client)
    incident update "$d" --status in_progress --assignee sato --at "$(ago "71 hours")" >/dev/null
    incident resolve "$d" --at "$(ago "69 hours")" --actions '接続プール再初期化' \
        --root-cause '接続プールの枯渇' >/dev/null
    raise "2 hours" security high '不審なSSHログイン試行' bastion >/dev/null
fi

echo "== record an incident by hand"
id=$(incident create --category failure --priority high \
    --title 'RabbitMQ接続エラー: 10.0.0.3:5672 への接続が30秒でタイムアウトしました' \
    --description 'Connection refused to 10.0.0.3:5672' \
    --components libs/rabbitmq_client.py pm_worker --impact '通知処理の停止')
incident update "$id" --status in_progress --assignee tanaka
incident show "$id"
incident list --component libs/rabbitmq_client.py --status open --status in_progress --limit 5

echo "== mine patterns and update a scratch copy of the knowledge base"
incident analyze --top 10
rm -rf quickstart-kb && cp -r kb quickstart-kb
incident kb suggest --kb quickstart-kb | head -n 80 || true
incident kb suggest --kb quickstart-kb --write
echo "-- a second run changes nothing:"
incident kb suggest --kb quickstart-kb --write

echo "== reports"
incident report --html report.html --format markdown > report.md
incident stats
echo "wrote report.md and report.html"

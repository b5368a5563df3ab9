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
incident report --html report.html > report.md
incident stats
echo "wrote report.md and report.html"

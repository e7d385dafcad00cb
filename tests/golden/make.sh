#!/usr/bin/env bash
# make.sh: writes one golden ledger, a real data directory and an online backup made by one
# build of voucherd/voucherctl, plus expected.json, the facts any later build must reproduce
# when it opens them.
#
#   tests/golden/make.sh VOUCHERD VOUCHERCTL OUT_DIR [WRITTEN_BY]
#
#   VOUCHERD, VOUCHERCTL  the binaries of the build that writes the ledger
#   OUT_DIR               created; must not exist yet or be empty
#   WRITTEN_BY            recorded in expected.json (the commit the binaries were built from)
#
# GOLDEN_VOUCHERD_FLAGS, if set, is added to voucherd's flags (for builds that have them, e.g.
# `--wal-segment-kib 64`, so the write-ahead log's preallocated segment stays small in git).
#
# OUT_DIR gets:
#   data/          the server's data directory after a clean SIGTERM stop (bureau.token kept:
#                  it is a test fixture, not a secret); data.tar.gz instead if over 20 MB
#   ledger.backup  `voucherctl backup` taken while the server was serving
#   expected.json  event count, head hash, balances, vouchers, redemptions (and, on builds with
#                  settlement, statements; with provider access, providers; with the
#                  enterprise's part, applications and notices; with who did what, steps
#                  and event_filters), read back with `voucherctl --json`
#
# The workload is fixed (same commands, ids, invoices and amounts every run) and the rules' day
# is pinned with --today 2026-11-20; only the first start, before a restart, is pinned to
# 2026-11-19 so that one voucher expires (see below). Events also carry the wall-clock time
# they were written, so a second run gives the same records but a different head hash.
#
# Which commands the build has is read from its `voucherctl --help`: a build without
# settlement (e.g. cef3c4d) runs only the common part. Needs bash, python3 (standard library).
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
    echo "usage: $0 VOUCHERD VOUCHERCTL OUT_DIR [WRITTEN_BY]" >&2
    exit 2
fi
VOUCHERD=$(realpath "$1")
VOUCHERCTL=$(realpath "$2")
OUT=$3
WRITTEN_BY=${4:-unknown}
TODAY=2026-11-20
DAY_BEFORE=2026-11-19   # the first start only, see "voucher_expired" below
SIZE_LIMIT=$((20 * 1024 * 1024))   # above it, data/ is shipped as data.tar.gz

if [[ -e $OUT && -n $(ls -A "$OUT") ]]; then
    echo "make.sh: $OUT is not empty; refusing to overwrite a golden ledger" >&2
    exit 2
fi
mkdir -p "$OUT"
OUT=$(realpath "$OUT")

# Scratch space: the live data dir, the server's log and stdout, tokens, replies.
WORK=$(mktemp -d /tmp/golden-make.XXXXXX)
DATA=$WORK/data
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

say() { echo "make.sh: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# 1. Starting and stopping voucherd. Port 0: it picks a free port and prints
#    "voucherd listening on ADDR" on stdout; logs (JSON) go to $WORK, never into the data dir.
# ---------------------------------------------------------------------------------------------
start_server() {  # start_server DAY : serves $DATA with the rules' day pinned to DAY
    : >"$WORK/voucherd.out"
    # shellcheck disable=SC2086  # the extra flags are words on purpose
    "$VOUCHERD" --listen 127.0.0.1:0 --data-dir "$DATA" --today "$1" --log-format json \
        ${GOLDEN_VOUCHERD_FLAGS:-} >"$WORK/voucherd.out" 2>>"$WORK/voucherd.log" &
    SERVER_PID=$!
    ADDR=
    for _ in $(seq 1 300); do
        ADDR=$(sed -n 's/^voucherd listening on //p' "$WORK/voucherd.out")
        [[ -n $ADDR && -s $DATA/bureau.token ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/voucherd.log" >&2; die "voucherd exited at start"; }
        sleep 0.1
    done
    [[ -n $ADDR ]] || die "voucherd did not report its address"
    say "voucherd pid $SERVER_PID on $ADDR, today $1, data in $DATA"
}
stop_server() {  # SIGTERM; a clean stop exits 0
    kill -TERM "$SERVER_PID"
    local rc=0; wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    [[ $rc -eq 0 ]] || { tail -n 20 "$WORK/voucherd.log" >&2; die "voucherd exited $rc on SIGTERM"; }
}
BUREAU=$DATA/bureau.token

# voucherctl as the bureau, or as the holder of a given token file.
ctl() { "$VOUCHERCTL" --addr "$ADDR" --token-file "$BUREAU" "$@"; }
ctl_as() { local token=$1; shift; "$VOUCHERCTL" --addr "$ADDR" --token-file "$token" "$@"; }
# One field of a one-line JSON reply on stdin.
field() { python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }
# Run a command that the ledger must refuse (exit 1) with REASON in its error.
refused() {
    local reason=$1; shift
    local rc=0
    "$@" >"$WORK/refused.out" 2>"$WORK/refused.err" || rc=$?
    [[ $rc -eq 1 ]] || die "expected refusal $reason, got exit $rc: $*"
    grep -q -- "$reason" "$WORK/refused.err" || die "expected $reason, got: $(cat "$WORK/refused.err")"
    say "refused as expected: $(head -n1 "$WORK/refused.err")"
}

# What this build can do (cef3c4d has none of these).
# (Help is captured first: `cmd | grep -q` can fail under pipefail when grep stops reading.)
HELP=$("$VOUCHERCTL" --help)
REDEEM_HELP=$("$VOUCHERCTL" redeem --help)
has_command() { grep -qE "^  $1 " <<<"$HELP"; }
HAS_SETTLEMENT=0; has_command settlement && HAS_SETTLEMENT=1
HAS_PAY=0
if [[ $HAS_SETTLEMENT = 1 ]]; then
    SETTLEMENT_HELP=$("$VOUCHERCTL" settlement --help)
    grep -qE '^  pay ' <<<"$SETTLEMENT_HELP" && HAS_PAY=1
fi
HAS_RELATED=0; has_command related-parties && HAS_RELATED=1
HAS_EVIDENCE=0; grep -q -- '--evidence' <<<"$REDEEM_HELP" && HAS_EVIDENCE=1
HAS_ACCESS=0; has_command provider && HAS_ACCESS=1
HAS_ENTERPRISE=0; has_command apply && HAS_ENTERPRISE=1
# Who did what (issue 15): finance tokens, bureau tokens scoped to programs, records naming who
# made each step, events filtered by actor and record.
CREATE_TOKEN_HELP=$("$VOUCHERCTL" create-token --help)
HAS_DUTIES=0
if grep -q -- '--program' <<<"$CREATE_TOKEN_HELP" && grep -qE '^ +- finance' <<<"$CREATE_TOKEN_HELP"; then
    HAS_DUTIES=1
fi
say "features: settlement=$HAS_SETTLEMENT pay=$HAS_PAY related-parties=$HAS_RELATED evidence=$HAS_EVIDENCE access=$HAS_ACCESS enterprise=$HAS_ENTERPRISE duties=$HAS_DUTIES"

evidence_of() {  # evidence_of NAME : a contract and a receipt, hashed from fixed text
    [[ $HAS_EVIDENCE = 1 ]] || return 0
    local contract receipt
    contract=$(printf 'golden contract %s' "$1" | sha256sum | cut -d' ' -f1)
    receipt=$(printf 'golden receipt %s' "$1" | sha256sum | cut -d' ' -f1)
    echo "--evidence contract:$contract:合同-$1.pdf --evidence payment_receipt:$receipt:回单-$1.pdf"
}
redeem() {  # redeem TOKEN VOUCHER ENTERPRISE INVOICE DATE AMOUNT [more flags]
    local token=$1 voucher=$2 enterprise=$3 invoice=$4 date=$5 amount=$6; shift 6
    ctl_as "$token" --json redeem --voucher "$voucher" --enterprise "$enterprise" \
        --invoice-number "$invoice" --invoice-date "$date" --amount "$amount" "$@" | field redemption_id
}

# ---------------------------------------------------------------------------------------------
# 2. The workload.
# ---------------------------------------------------------------------------------------------
# Enterprises: three valid GB 32100 codes and one with a bad check digit (…217, should be …216),
# registered with the override reason.
E1=914403001922038216; E2=91110108551385082Q; E3=91330100716105852F; E4=914403001922038217
# Providers: a compute provider and a robot lessor (91320681MA1N7Q4R2M: Qidong's area code,
# check digit M computed with src/domain/credit_code.rs's algorithm).
P1=9144030071526726XG; P2=91320681MA1N7Q4R2M

# The first start is pinned one day earlier, so that a voucher can be issued whose redeem_by
# (valid_until + 90 days) is that day: on the restart below, pinned to $TODAY, it has passed
# and voucherd expires it at start. That is the only way to get a voucher_expired event
# (issuing a voucher whose redeem_by has passed is refused). Everything after the restart
# runs with today = $TODAY.
start_server "$DAY_BEFORE"
ctl health >/dev/null

ctl --json register-enterprise --credit-code $E1 --name 启东智算科技有限公司 >/dev/null
ctl --json register-enterprise --credit-code $E2 --name 北京深度视觉科技有限公司 >/dev/null
ctl --json register-enterprise --credit-code $E3 --name 杭州具身智能机器人有限公司 >/dev/null
ctl --json register-enterprise --credit-code $E4 --name 启东校验位有误科技有限公司 \
    --override-reason "营业执照所载代码校验位有误，经市场监管局核实" >/dev/null
ctl --json register-provider --credit-code $P1 --name 启东云算力服务有限公司 --program compute >/dev/null
ctl --json register-provider --credit-code $P2 --name 启东具身机器人租赁有限公司 --program leasing >/dev/null

# Tokens: one per provider, an auditor, and a retired provider token that is revoked.
# (The secret is printed once; voucherctl's "note:" about it goes to stderr.)
new_token() {  # new_token FILE ARGS... : writes the secret to FILE, prints the token id
    local reply; reply=$(ctl --json create-token "${@:2}" 2>/dev/null)
    field token <<<"$reply" >"$1"
    field token_id <<<"$reply"
}
new_token "$WORK/p1.token" --role provider --provider $P1 --description "启东云算力 billing system" >/dev/null
new_token "$WORK/p2.token" --role provider --provider $P2 --description "租赁商 ERP" >/dev/null
new_token "$WORK/auditor.token" --role auditor --description "市审计局" >/dev/null
OLD=$(new_token "$WORK/old.token" --role provider --provider $P1 --description "retired billing system")
ctl --json revoke-token "$OLD" >/dev/null
refused UNAUTHENTICATED ctl_as "$WORK/old.token" list-redemptions

# Vouchers (explicit request ids, so the run is repeatable):
issue() { ctl --json issue-voucher --request-id "$@" | field voucher_id; }
V1=$(issue golden-v1 --enterprise $E1 --program compute)          # default: all the 2026 cap
V2=$(issue golden-v2 --enterprise $E2 --program compute --face-value 300,000.00 \
    --valid-from 2026-06-01 --valid-until 2026-12-31)
V3=$(issue golden-v3 --enterprise $E2 --program leasing --face-value 50,000.00 \
    --valid-from 2026-07-01 --valid-until 2027-06-30)
V4=$(issue golden-v4 --enterprise $E3 --program leasing)          # default: the whole term's cap
V5=$(issue golden-v5 --enterprise $E4 --program compute --face-value 80,000.00)
V6=$(issue golden-v6 --enterprise $E3 --program compute --face-value 10,000.00)   # revoked below
# valid until 2026-08-21, so redeem_by = 2026-11-19 = $DAY_BEFORE; partly redeemed, then expired.
V7=$(issue golden-v7 --enterprise $E4 --program leasing --face-value 5,000.00 \
    --valid-from 2026-05-14 --valid-until 2026-08-21)
R0=$(redeem "$WORK/p2.token" "$V7" $E4 24322000000000000200 2026-08-01 7,777.77)
say "$V7 partly redeemed by $R0"

# Restart: a clean stop, a start on the same data (replay at start), and V7 expires.
stop_server
start_server "$TODAY"
status=$(ctl --json get-voucher "$V7" | field status)
[[ $status = expired ]] || die "$V7 is $status after the restart, not expired"

# Redemptions: 20-digit invoice numbers, dates in 2026-05-14..2026-11-20, amounts with fen.
# The first one of each provider carries evidence when the build knows evidence.
# shellcheck disable=SC2046  # evidence_of's words are meant to split
R1=$(redeem "$WORK/p1.token" "$V1" $E1 24322000000000000101 2026-06-15 12,345.67 $(evidence_of R1))
R2=$(redeem "$WORK/p1.token" "$V1" $E1 24322000000000000102 2026-07-31 200,000.01)
R3=$(redeem "$WORK/p1.token" "$V2" $E2 24322000000000000103 2026-08-08 88,888.88)
# shellcheck disable=SC2046
R4=$(redeem "$WORK/p2.token" "$V3" $E2 24322000000000000204 2026-09-09 35,000.03 $(evidence_of R4))
R5=$(redeem "$WORK/p2.token" "$V4" $E3 24322000000000000205 2026-10-10 123,456.78)
R6=$(redeem "$WORK/p1.token" "$V5" $E4 24322000000000000106 2026-05-20 10,000.00)
R7=$(redeem "$WORK/p1.token" "$V6" $E3 24322000000000000107 2026-11-01 4,321.09)
R8=$(redeem "$WORK/p1.token" "$V1" $E1 24322000000000000108 2026-11-20 1,000.00)
R9=$(redeem "$WORK/p2.token" "$V4" $E3 24322000000000000209 2026-11-15 9,999.99)
# The bureau redeems on the provider's behalf; 200,000.00 × 50% passes the 75,000.00 left on V5, so
# --allow-partial grants what is left.
R10=$(redeem "$BUREAU" "$V5" $E4 24322000000000000110 2026-11-10 200,000.00 --provider $P1 --allow-partial)
# A retry of the same invoice answers the first redemption (no event).
[[ $(redeem "$WORK/p1.token" "$V1" $E1 24322000000000000108 2026-11-20 1,000.00) = "$R8" ]] \
    || die "retry of $R8 answered another redemption"
# Refusal: 5,000,000.00 × 50% would pass E2's 2,000,000.00 compute cap. Refusals store nothing.
refused CAP_EXCEEDED ctl_as "$WORK/p1.token" redeem --voucher "$V2" --enterprise $E2 \
    --invoice-number 24322000000000000111 --invoice-date 2026-11-12 --amount 5,000,000.00

# 红冲 by the provider itself; a voucher revoked with part of it redeemed (releases the rest).
ctl_as "$WORK/p1.token" --json reverse-redemption "$R8" --reason "发票已作废重开" >/dev/null
ctl --json revoke-voucher "$V6" --reason "企业迁出启东" >/dev/null

# ---------------------------------------------------------------------------------------------
# 3. Review, settlement, payment, clawback: only on builds that have them.
# ---------------------------------------------------------------------------------------------
if [[ $HAS_SETTLEMENT = 1 ]]; then
    for claim in "$R1" "$R2" "$R3" "$R6" "$R10" "$R4" "$R5"; do
        ctl --json approve "$claim" >/dev/null
    done
    ctl --json reject "$R9" --reason "发票与租赁合同金额不符" >/dev/null   # R7 stays accepted
    if [[ $HAS_RELATED = 1 ]]; then
        ctl --json related-parties --provider $P2 --enterprise $E1 --reason "同一实际控制人" >/dev/null
    fi
    S1=$(ctl --json settlement create --provider $P1 --program compute --up-to $TODAY \
        --request-id golden-s1 | field settlement_id)
    S2=$(ctl --json settlement create --provider $P2 --program leasing --up-to $TODAY \
        --request-id golden-s2 | field settlement_id)
    if [[ $HAS_PAY = 1 ]]; then
        ctl --json settlement pay "$S1" --bank-reference "国库集中支付 2026-1120-0001" \
            --paid-on $TODAY >/dev/null
    fi
    # A settled claim: the provider may not reverse it; the bureau may, booking a clawback.
    refused PERMISSION_DENIED ctl_as "$WORK/p1.token" reverse-redemption "$R2" --reason "发票已红冲"
    ctl --json reverse-redemption "$R2" --reason "发票已红冲" >/dev/null
    # One more approved claim; the next statement pays it and nets the clawback (net < 0).
    # shellcheck disable=SC2046
    R11=$(redeem "$WORK/p1.token" "$V1" $E1 24322000000000000112 2026-11-19 30,000.00 $(evidence_of R11))
    ctl --json approve "$R11" >/dev/null
    S3=$(ctl --json settlement create --provider $P1 --program compute --up-to $TODAY \
        --request-id golden-s3 | field settlement_id)
    say "statements $S1 $S2 $S3"
fi

# ---------------------------------------------------------------------------------------------
# 3b. Provider access (event format 3): pin and revoke P1's certificates by fingerprint (the
#     SHA-256 of made-up DER bytes: nothing connects with them here), suspend P2, show it is
#     refused, reinstate it, and leave it suspended again.
# ---------------------------------------------------------------------------------------------
PINNED=$(printf 'golden pinned certificate' | sha256sum | cut -d' ' -f1)
REVOKED=$(printf 'golden revoked certificate' | sha256sum | cut -d' ' -f1)
if [[ $HAS_ACCESS = 1 ]]; then
    ctl --json provider pin-certificate $P1 --sha256 "$PINNED" >/dev/null
    ctl --json provider revoke-certificate $P1 --sha256 "$REVOKED" >/dev/null
    ctl --json provider suspend $P2 --reason "租赁合同核查中" >/dev/null
    refused PROVIDER_SUSPENDED ctl_as "$WORK/p2.token" list-redemptions
    ctl --json provider reinstate $P2 >/dev/null
    ctl --json provider suspend $P2 --reason "年度复核未通过" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# 3c. The enterprise's part (event format 4). E3 applies with its own token: one application
#     approved for less than it asked, into a voucher bound to P1; one (naming P1 and a second
#     compute provider P3) rejected; a second live application for the same contract refused.
#     The bureau issues a voucher bound to P3 (P1 may not redeem it) and adds P3 to E3's
#     voucher. P1 claims on it: one claim E3 confirms (then approved), one E3 disputes, one
#     the bureau returns for correction and P1 claims again with the corrected amount
#     (approved too). A notice (公示) lists the two approved claims, named by id: a notice of
#     "all claims approved in a period" would depend on the wall clock.
# ---------------------------------------------------------------------------------------------
P3=91320681MA1Q6W2D3B   # a second compute provider (check digit computed as P2's)
if [[ $HAS_ENTERPRISE = 1 ]]; then
    ctl --json register-provider --credit-code $P3 --name 启东智算二号服务有限公司 --program compute >/dev/null
    new_token "$WORK/e3.token" --role enterprise --enterprise $E3 --description "杭州具身智能 申报专员" >/dev/null
    printf 'golden contract HT-2026-0001' >"$WORK/HT-2026-0001.pdf"
    apply() {  # apply REQUEST_ID CONTRACT_NUMBER AMOUNT [more flags] : one application, as JSON
        local request_id=$1 contract=$2 amount=$3; shift 3
        ctl_as "$WORK/e3.token" --json apply --request-id "$request_id" --program compute \
            --amount "$amount" --contract-number "$contract" --purpose "具身智能大模型训练" "$@"
    }
    A1=$(apply golden-a1 HT-2026-0001 120,000.00 --provider $P1 \
        --contract-file "$WORK/HT-2026-0001.pdf" --other-subsidies "无" | field application_id)
    A2=$(apply golden-a2 HT-2026-0002 60,000.00 --provider $P1 --provider $P3 \
        --contract-sha256 "$(printf 'golden contract HT-2026-0002' | sha256sum | cut -d' ' -f1)" \
        | field application_id)
    [[ $(apply golden-a1 HT-2026-0001 120,000.00 --provider $P1 --contract-file "$WORK/HT-2026-0001.pdf" \
        --other-subsidies "无" | field application_id) = "$A1" ]] || die "retry of $A1 answered another application"
    refused CONTRACT_ALREADY_APPLIED apply golden-a3 HT-2026-0001 10,000.00 --provider $P3 \
        --contract-file "$WORK/HT-2026-0001.pdf"
    V8=$(ctl --json approve-application "$A1" --face-value 100,000.00 | field voucher_id)
    ctl --json reject-application "$A2" --reason "合同未加盖公章" >/dev/null
    V9=$(issue golden-v9 --enterprise $E2 --program compute --face-value 50,000.00 --provider $P3)
    refused NOT_FOUND ctl_as "$WORK/p1.token" redeem --voucher "$V9" --enterprise $E2 \
        --invoice-number 24322000000000000116 --invoice-date 2026-11-05 --amount 1,000.00
    ctl --json change-voucher-providers "$V8" --provider $P1 --provider $P3 \
        --reason "企业书面申请增加服务商" >/dev/null

    R12=$(redeem "$WORK/p1.token" "$V8" $E3 24322000000000000113 2026-11-02 40,000.00)
    R13=$(redeem "$WORK/p1.token" "$V8" $E3 24322000000000000114 2026-11-03 10,000.00)
    R14=$(redeem "$WORK/p1.token" "$V8" $E3 24322000000000000115 2026-11-04 30,000.00)
    ctl_as "$WORK/e3.token" --json confirm-redemption "$R12" >/dev/null
    refused REDEMPTION_NOT_OPEN ctl_as "$WORK/e3.token" dispute-redemption "$R12" --reason "已确认"
    ctl_as "$WORK/e3.token" --json dispute-redemption "$R13" --reason "该笔租赁未实际发生" >/dev/null
    ctl --json return-redemption "$R14" --reason "发票金额与实付不符，请按实付金额重报" >/dev/null
    R15=$(redeem "$WORK/p1.token" "$V8" $E3 24322000000000000115 2026-11-04 24,000.00)
    corrects=$(ctl --json get-redemption "$R15" | field corrects_redemption_id)
    [[ $corrects = "$R14" ]] || die "$R15 corrects '$corrects', not $R14"
    ctl --json approve "$R12" >/dev/null
    ctl --json approve "$R15" >/dev/null
    NOTICE=$(ctl --json publish-notice --program compute --approved-from $TODAY --approved-until $TODAY \
        --posted-from 2026-11-21 --posted-until 2026-11-27 --redemption "$R12" --redemption "$R15")
    N1=$(field notice_id <<<"$NOTICE")
    say "applications $A1 $A2, vouchers $V8 $V9, claims $R12 $R13 $R14 $R15, notice $N1"
fi

# ---------------------------------------------------------------------------------------------
# 3d. Who did what (event format 5: every event names the token and role that caused it). A
#     second bureau token, scoped to leasing, issues a leasing voucher to E1 and is refused a
#     compute one; a finance token records S2's payment (P2's statement, unpaid until now) and
#     is refused issuing. expected.json records who made the steps of a few records ("steps")
#     and what the event filters by record and by actor list ("event_filters").
# ---------------------------------------------------------------------------------------------
if [[ $HAS_DUTIES = 1 ]]; then
    LEASING_CLERK=$(new_token "$WORK/leasing.token" --role bureau --program leasing \
        --description "租赁券 经办人")
    FINANCE=$(new_token "$WORK/finance.token" --role finance --description "市财政局 国库科")
    V10=$(ctl_as "$WORK/leasing.token" --json issue-voucher --request-id golden-v10 --enterprise $E1 \
        --program leasing --face-value 20,000.00 | field voucher_id)
    refused PERMISSION_DENIED ctl_as "$WORK/leasing.token" issue-voucher --request-id golden-v11 \
        --enterprise $E2 --program compute --face-value 1,000.00
    refused PERMISSION_DENIED ctl_as "$WORK/finance.token" issue-voucher --request-id golden-v12 \
        --enterprise $E2 --program compute --face-value 1,000.00
    if [[ $HAS_PAY = 1 ]]; then
        ctl_as "$WORK/finance.token" --json settlement pay "$S2" \
            --bank-reference "国库集中支付 2026-1120-0002" --paid-on $TODAY >/dev/null
    fi
    say "leasing clerk $LEASING_CLERK issued $V10; finance $FINANCE paid $S2"
fi

# ---------------------------------------------------------------------------------------------
# 4. Online backup while serving, then the facts, read back as the auditor.
# ---------------------------------------------------------------------------------------------
ctl backup "$OUT/ledger.backup" >"$WORK/backup.txt"
AUDIT=$WORK/auditor.token
ctl_as "$AUDIT" --json verify >"$WORK/verify.json"
for program in compute leasing; do
    ctl_as "$AUDIT" --json list-balances --program $program --all >"$WORK/balances-$program.json"
done
ctl_as "$AUDIT" --json list-vouchers --all >"$WORK/vouchers.json"
ctl_as "$AUDIT" --json list-redemptions --all >"$WORK/redemptions.json"
if [[ $HAS_SETTLEMENT = 1 ]]; then
    ctl_as "$AUDIT" --json settlement list --all >"$WORK/settlements.json"
fi
if [[ $HAS_ACCESS = 1 ]]; then
    for provider in $P1 $P2; do
        ctl_as "$AUDIT" --json provider show $provider >>"$WORK/providers.json"
    done
fi
if [[ $HAS_ENTERPRISE = 1 ]]; then
    ctl_as "$AUDIT" --json list-applications --all >"$WORK/applications.json"
    ctl_as "$AUDIT" --json list-notices --all >"$WORK/notices.json"
    # Each notice with its lines: the notice's object, then one object a line.
    for notice in $(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    for n in json.loads(line)["notices"]: print(n["notice_id"])' "$WORK/notices.json"); do
        ctl_as "$AUDIT" --json get-notice "$notice" >"$WORK/notice-$notice.json"
    done
fi
if [[ $HAS_DUTIES = 1 ]]; then
    # Who made each step of these records: a file each, listed in steps.txt in this order.
    # V1 the bootstrap bureau token issued; V6 revoked by the bureau; V7 expired by the ledger;
    # V10 the leasing clerk's; R1 filed by P1's token, approved; R8 reversed by P1; R10 filed by
    # the bureau for P1; R12 confirmed by E3; R13 disputed by E3; R14 returned by the bureau;
    # S1 paid by the bureau, S2 by finance; A1 applied by E3 and approved, A2 rejected.
    step() {  # step FILE_NAME COMMAND... : one record's reply, as JSON
        ctl_as "$AUDIT" --json "${@:2}" >"$WORK/step-$1.json"
        echo "$1" >>"$WORK/steps.txt"
    }
    for voucher in "$V1" "$V6" "$V7" "$V10"; do step "$voucher" get-voucher "$voucher"; done
    for claim in "$R1" "$R8" "$R10" "$R12" "$R13" "$R14"; do step "$claim" get-redemption "$claim"; done
    for statement in "$S1" "$S2"; do step "$statement" settlement get "$statement"; done
    for application in "$A1" "$A2"; do step "$application" get-application "$application"; done
    # The event filters: a record's history, a token's doings.
    filter() {  # filter KEY VALUE FLAG : `voucherctl events FLAG VALUE`, KEY naming the filter
        ctl_as "$AUDIT" --json events "$3" "$2" >"$WORK/filter-$1-$2.json"
        echo "$1 $2" >>"$WORK/filters.txt"
    }
    filter record_id "$V10" --record
    filter record_id "$S2" --record
    filter record_id "$R12" --record
    filter actor_token_id "$LEASING_CLERK" --actor
    filter actor_token_id "$FINANCE" --actor
fi

WORK=$WORK OUT=$OUT WRITTEN_BY=$WRITTEN_BY TODAY=$TODAY python3 - <<'PY'
import json, os
from decimal import Decimal

work, out = os.environ["WORK"], os.environ["OUT"]

def lines(name):
    """Every JSON line of a reply file (a paged list prints one object per page)."""
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

def items(name, key):
    return [item for page in lines(name) for item in page[key]]

def yuan(text):
    """"1,234.5" or "1234.50" -> "1234.50"; None stays None."""
    if text is None:
        return None
    return str(Decimal(str(text).replace(",", "")).quantize(Decimal("0.01")))

verify = lines("verify.json")[0]
assert verify["sound"], verify
with open(os.path.join(out, "ledger.backup"), encoding="utf-8") as f:
    header = json.loads(f.readline())
assert header["events"] == verify["events"], (header, verify)
assert header["head_sha256"] == verify["head_sha256"], (header, verify)

expected = {
    "written_by": os.environ["WRITTEN_BY"],
    "today": os.environ["TODAY"],
    "event_count": verify["events"],
    "head_sha256": verify["head_sha256"],
    "balances": [
        {
            "enterprise": b["enterprise_credit_code"],
            "program": b["program"],
            "committed": yuan(b["committed"]),
            "redeemed": yuan(b["redeemed"]),
        }
        for program in ("compute", "leasing")
        for b in items(f"balances-{program}.json", "balances")
    ],
    "vouchers": [
        {
            "voucher_id": v["voucher_id"],
            "enterprise": v["enterprise_credit_code"],
            "program": v["program"],
            "face_value": yuan(v["face_value"]),
            "redeemed": yuan(v["redeemed"]),
            "status": v["status"],
        }
        for v in items("vouchers.json", "vouchers")
    ],
    "redemptions": [],
}
def codes(listed):
    """A voucher's or application's providers, "A, B" ("any": not bound) -> ["A", "B"]."""
    return [] if listed in ("", "any") else listed.split(", ")

for row, v in zip(expected["vouchers"], items("vouchers.json", "vouchers")):
    if codes(v.get("providers", "")):
        row["providers"] = codes(v["providers"])
    if v.get("application_id"):
        row["application_id"] = v["application_id"]
for r in items("redemptions.json", "redemptions"):
    row = {
        "redemption_id": r["redemption_id"],
        "voucher_id": r["voucher_id"],
        "invoice_number": r["invoice_number"],
        "subsidy": yuan(r["subsidy"]),
        "status": r["status"],
        "provider": r["provider_credit_code"],
        "invoice_date": r["invoice_date"],
        "invoice_amount": yuan(r["invoice_amount"]),
    }
    if r.get("settlement_id"):
        row["settlement_id"] = r["settlement_id"]
    if r.get("corrects_redemption_id"):
        row["corrects_redemption_id"] = r["corrects_redemption_id"]
    if r.get("confirmed_at"):
        row["confirmed"] = True
    if r.get("closing_reason"):
        row["closing_reason"] = r["closing_reason"]
    expected["redemptions"].append(row)
settlements = items("settlements.json", "settlements")
if settlements:
    expected["settlements"] = [
        {
            "settlement_id": s["settlement_id"],
            "provider": s["provider_credit_code"],
            "program": s["program"],
            "lines": int(s["lines"]),
            "gross": yuan(s["gross"]),
            "clawed_back": yuan(s["clawed_back"]),
            "net": yuan(s["net"]),
            "paid_on": s.get("paid_on"),
            "bank_reference": s.get("bank_reference"),
        }
        for s in settlements
    ]
providers = lines("providers.json")
if providers:
    expected["providers"] = [
        {
            "credit_code": p["credit_code"],
            "suspended": p["suspended"],
            "suspension_reason": p["suspension_reason"],
            "pinned_certificate_sha256": p["pinned_certificate_sha256"],
            "revoked_certificate_sha256": p["revoked_certificate_sha256"],
        }
        for p in providers
    ]
applications = items("applications.json", "applications")
if applications:
    expected["applications"] = [
        {
            "application_id": a["application_id"],
            "enterprise": a["enterprise_credit_code"],
            "program": a["program"],
            "amount": yuan(a["amount"]),
            "providers": codes(a["providers"]),
            "contract_number": a["contract_number"],
            "contract_sha256": a["contract_sha256"],
            "status": a["status"],
            "voucher_id": a["voucher_id"],
            "rejection_reason": a["rejection_reason"],
        }
        for a in applications
    ]
notices = items("notices.json", "notices")
if notices:
    expected["notices"] = []
    for n in notices:
        header, *notice_lines = lines(f"notice-{n['notice_id']}.json")
        expected["notices"].append({
            "notice_id": n["notice_id"],
            "program": n["program"],
            "approved_from": n["approved_from"],
            "approved_until": n["approved_until"],
            "posted_from": n["posted_from"],
            "posted_until": n["posted_until"],
            "total": yuan(header["total"]),
            "lines": [
                {
                    "redemption_id": line["redemption_id"],
                    "enterprise": line["enterprise_credit_code"],
                    "provider": line["provider_credit_code"],
                    "subsidy": yuan(line["subsidy"]),
                }
                for line in notice_lines
            ],
        })
def who(actor):
    """An actor as voucherctl --json prints it -> the facts kept: token id and role."""
    row = {"token_id": actor["token_id"], "role": actor["role"]}
    if actor.get("certificate_subject"):
        row["certificate_subject"] = actor["certificate_subject"]
    return row

# The wire's name of each step voucherctl prints: a statement's payment step is nested.
STEP_NAMES = {"payment_recorded_by": "payment.recorded_by"}
step_files = os.path.join(work, "steps.txt")
if os.path.exists(step_files):
    expected["steps"] = []
    for record_id in open(step_files, encoding="utf-8").read().split():
        # A statement prints its header first, then its lines: the header holds the steps.
        record = lines(f"step-{record_id}.json")[0]
        for key, value in record.items():
            if key.endswith("_by") and isinstance(value, dict):
                step = {"record": record_id, "step": STEP_NAMES.get(key, key)}
                expected["steps"].append({**step, **who(value)})
filter_files = os.path.join(work, "filters.txt")
if os.path.exists(filter_files):
    expected["event_filters"] = []
    for line in open(filter_files, encoding="utf-8").read().splitlines():
        key, value = line.split()
        expected["event_filters"].append({
            key: value,
            "events": [
                {"sequence": int(e["sequence"]), "type": e["type"], **who(e["actor"])}
                for e in lines(f"filter-{key}-{value}.json")
            ],
        })
with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"make.sh: {expected['event_count']} events, head {expected['head_sha256']}")
PY

# ---------------------------------------------------------------------------------------------
# 5. Clean stop (SIGTERM must give exit 0), copy the data dir, check the copy offline.
# ---------------------------------------------------------------------------------------------
stop_server

mkdir "$OUT/data"
# No log is written into the data dir (it went to $WORK), but keep any out regardless.
tar -C "$DATA" --exclude='*.log' -cf - . | tar -C "$OUT/data" -xf -

# The copy must verify offline with the same build, with the same head as expected.json.
# (Verify a scratch copy: opening a sled tree may touch its files.)
cp -a "$OUT/data" "$WORK/check"
"$VOUCHERD" verify --data-dir "$WORK/check" >"$WORK/offline-verify.txt" \
    || { cat "$WORK/offline-verify.txt" >&2; die "offline verify of the copy failed"; }
head=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["head_sha256"])' "$OUT/expected.json")
grep -q "head sha256: $head" "$WORK/offline-verify.txt" || die "offline head differs from $head"

size=$(du -sb "$OUT/data" | cut -f1)
if [[ $size -gt $SIZE_LIMIT ]]; then
    tar -C "$OUT" -czf "$OUT/data.tar.gz" data
    rm -rf "$OUT/data"
    say "data dir was $size bytes: shipped as data.tar.gz"
fi
say "done: $OUT ($(du -sh "$OUT" | cut -f1)); data $size bytes"

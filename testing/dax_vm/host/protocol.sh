# shellcheck shell=bash
# The host's only reader of what a guest says on its console (the format is documented in guest/report.sh):
# records are lines of tab-separated fields starting with "@@". Everything else in the log is ignored.

# guest_said LOG KIND: whether the console log holds a KIND record yet (BOOTED, READY-TO-CRASH, DONE)
guest_said() {
    grep -qa "^@@	$2	" "$1" 2>/dev/null
}

# guest_records LOG KIND: the well-formed RESULT or STEP records of the log, one `name<TAB>status<TAB>detail`
# line each, in the order the guest wrote them
guest_records() {
    awk -F '\t' -v kind="$2" '{ sub(/\r$/, "") }
        $1 == "@@" && $2 == kind && NF == 5 && $3 ~ /^[A-Za-z0-9._-]+$/ && ($4 == "PASS" || $4 == "FAIL") {
            print $3 "\t" $4 "\t" $5
        }' "$1" 2>/dev/null
}

# guest_malformed LOG: the lines that start like a record but are none (garbled, or of an unknown kind)
guest_malformed() {
    awk -F '\t' '{ sub(/\r$/, "") } /^@@/ {
            if ($1 == "@@" && ($2 == "BOOTED" || $2 == "READY-TO-CRASH" || $2 == "DONE") && NF == 3) next
            if ($1 == "@@" && ($2 == "RESULT" || $2 == "STEP") && NF == 5 && $3 ~ /^[A-Za-z0-9._-]+$/ &&
                ($4 == "PASS" || $4 == "FAIL")) next
            print substr($0, 1, 160)
        }' "$1" 2>/dev/null
}

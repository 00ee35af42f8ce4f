package engine

// MayApprove reports whether d's decider is named among approvers, as a user or
// through a group ("group:<name>"): the rule of an approval step, for approvals
// outside executions (pipeline gates).
func MayApprove(approvers []string, d Decision) bool { return mayApprove(approvers, d) }

package podgroup

// Every Manager of these tests checks its published queue order and its
// groups' tallies at each unlock.
func init() { verifyDerived = true }

// VerifyDerived turns the check at each unlock on or off (benchmarks turn
// it off: it visits every group), and returns what puts it back.
func VerifyDerived(on bool) (restore func()) {
	was := verifyDerived
	verifyDerived = on
	return func() { verifyDerived = was }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DaoUnauthorized} from "@aragon/osx-commons-contracts/src/permission/auth/auth.sol";
import {CheckpointRegistry} from "../src/CheckpointRegistry.sol";
import {
    AlreadyReleased,
    AlreadyVerified,
    AttestationQuorumNotMet,
    EvidenceRequired,
    NoOpenDispute,
    NotCommitted,
    RootMismatch,
    RoundRejected,
    RoundUnderDispute
} from "../src/Errors.sol";
import {DaoTrainFixture} from "./utils/DaoTrainFixture.sol";
import {IOsxDao} from "./utils/OsxDao.sol";
import {vm} from "./utils/Vm.sol";

/// Verifiers the DAO appoints attest or dispute committed rounds; a release needs the DAO's
/// attestation quorum and no open or upheld dispute.
contract VerificationTest is DaoTrainFixture {
    bytes32 internal constant RUN = keccak256("run spec");
    uint64 internal constant ROUND = 1;
    string internal constant EVIDENCE = "s3://audits/run/1/diff.json";

    address internal immutable vera = vm.addr(0x7E4A);
    address internal immutable victor = vm.addr(0x7EC7);
    bytes32 internal root;

    function setUp() public override {
        super.setUp();
        _approveDataset(DATASET);
        _approveRun(RUN, 100 hours, 1 ether);
        _commitRound(RUN, ROUND, _noRecords());
        root = _rootOf(RUN, ROUND);
        _appoint(vera);
        _appoint(victor);
        _setQuorum(2);
    }

    function _appoint(address verifier) internal {
        _execute(
            address(dao),
            abi.encodeCall(IOsxDao.grant, (address(checkpoints), verifier, checkpoints.VERIFIER_PERMISSION_ID()))
        );
    }

    function _dismiss(address verifier) internal {
        _execute(
            address(dao),
            abi.encodeCall(IOsxDao.revoke, (address(checkpoints), verifier, checkpoints.VERIFIER_PERMISSION_ID()))
        );
    }

    function _setQuorum(uint32 quorum) internal {
        _execute(address(checkpoints), abi.encodeCall(CheckpointRegistry.setAttestationQuorum, (quorum)));
    }

    function _attest(address verifier) internal {
        vm.prank(verifier);
        checkpoints.attestRound(RUN, ROUND, root);
    }

    function _dispute(address verifier) internal {
        vm.prank(verifier);
        checkpoints.disputeRound(RUN, ROUND, root, EVIDENCE);
    }

    function _resolve(bool upheld) internal {
        _execute(address(checkpoints), abi.encodeCall(CheckpointRegistry.resolveDispute, (RUN, ROUND, upheld)));
    }

    function _expectReleaseReverts(bytes memory error) internal {
        vm.prank(address(dao));
        vm.expectRevert(error);
        checkpoints.releaseCheckpoint(RUN, ROUND);
    }

    function _release() internal {
        _execute(address(checkpoints), abi.encodeCall(CheckpointRegistry.releaseCheckpoint, (RUN, ROUND)));
    }

    function test_aReleaseWaitsForTheQuorumOfAttestations() public {
        _expectReleaseReverts(abi.encodeWithSelector(AttestationQuorumNotMet.selector, RUN, ROUND, 0, 2));
        vm.expectEmit(address(checkpoints));
        emit CheckpointRegistry.RoundAttested(RUN, ROUND, vera, root);
        _attest(vera);
        _expectReleaseReverts(abi.encodeWithSelector(AttestationQuorumNotMet.selector, RUN, ROUND, 1, 2));
        _attest(victor);

        vm.assertEq(checkpoints.attestationCount(RUN, ROUND), 2, "two attestations");
        address[] memory attesters = checkpoints.attesters(RUN, ROUND);
        vm.assertEq(attesters.length, 2, "two attesters");
        vm.assertEq(attesters[0], vera, "in order");
        vm.assertEq(attesters[1], victor, "in order");
        _release();
        vm.assertTrue(checkpoints.getCheckpoint(RUN, ROUND).released, "released");
    }

    function test_quorumZeroReleasesWithoutAttestations() public {
        vm.expectEmit(address(checkpoints));
        emit CheckpointRegistry.AttestationQuorumSet(0);
        _setQuorum(0);
        _release();
        vm.assertTrue(checkpoints.getCheckpoint(RUN, ROUND).released, "released");
    }

    function test_aVerifierAttestsOnlyTheCommittedRootAndOnlyOnce() public {
        bytes32 other = keccak256("another root");
        vm.startPrank(vera);
        vm.expectRevert(abi.encodeWithSelector(RootMismatch.selector, RUN, ROUND, root, other));
        checkpoints.attestRound(RUN, ROUND, other);
        vm.expectRevert(abi.encodeWithSelector(NotCommitted.selector, RUN, ROUND + 1));
        checkpoints.attestRound(RUN, ROUND + 1, root);

        checkpoints.attestRound(RUN, ROUND, root);
        vm.expectRevert(abi.encodeWithSelector(AlreadyVerified.selector, RUN, ROUND, vera));
        checkpoints.attestRound(RUN, ROUND, root);
        vm.expectRevert(abi.encodeWithSelector(AlreadyVerified.selector, RUN, ROUND, vera));
        checkpoints.disputeRound(RUN, ROUND, root, EVIDENCE);
        vm.stopPrank();

        vm.assertEq(checkpoints.attestationCount(RUN, ROUND), 1, "counted once");
        vm.assertEq(
            uint256(checkpoints.verdictOf(RUN, ROUND, vera)), uint256(CheckpointRegistry.Verdict.Attested), "verdict"
        );
        vm.assertEq(
            uint256(checkpoints.verdictOf(RUN, ROUND, victor)), uint256(CheckpointRegistry.Verdict.None), "no verdict"
        );
    }

    function testFuzz_nobodyWithoutVerifierPermissionAttestsOrDisputes(address caller) public {
        vm.assume(caller != vera && caller != victor);
        bytes memory denied = abi.encodeWithSelector(
            DaoUnauthorized.selector, address(dao), address(checkpoints), caller, checkpoints.VERIFIER_PERMISSION_ID()
        );
        vm.startPrank(caller);
        vm.expectRevert(denied);
        checkpoints.attestRound(RUN, ROUND, root);
        vm.expectRevert(denied);
        checkpoints.disputeRound(RUN, ROUND, root, EVIDENCE);
        vm.stopPrank();
        vm.assertEq(checkpoints.attestationCount(RUN, ROUND), 0, "nothing counted");
    }

    function test_onlyTheDaoSetsTheQuorumAndResolvesDisputes() public {
        _dispute(vera);
        address[2] memory callers = [operator, vera];
        for (uint256 i = 0; i < callers.length; i++) {
            bytes memory denied = abi.encodeWithSelector(
                DaoUnauthorized.selector,
                address(dao),
                address(checkpoints),
                callers[i],
                checkpoints.GOVERNANCE_PERMISSION_ID()
            );
            vm.startPrank(callers[i]);
            vm.expectRevert(denied);
            checkpoints.setAttestationQuorum(0);
            vm.expectRevert(denied);
            checkpoints.resolveDispute(RUN, ROUND, false);
            vm.stopPrank();
        }
    }

    function test_aDisputeFreezesTheRoundUntilTheDaoDismissesIt() public {
        _attest(vera);
        vm.expectEmit(address(checkpoints));
        emit CheckpointRegistry.DisputeOpened(RUN, ROUND, victor, root, EVIDENCE);
        _dispute(victor);
        vm.assertEq(
            uint256(checkpoints.getCheckpoint(RUN, ROUND).dispute), uint256(CheckpointRegistry.DisputeState.Open), "open"
        );
        _setQuorum(1);
        _expectReleaseReverts(abi.encodeWithSelector(RoundUnderDispute.selector, RUN, ROUND));

        vm.expectEmit(address(checkpoints));
        emit CheckpointRegistry.DisputeResolved(RUN, ROUND, false);
        _resolve(false);
        vm.assertEq(
            uint256(checkpoints.getCheckpoint(RUN, ROUND).dispute),
            uint256(CheckpointRegistry.DisputeState.Dismissed),
            "dismissed"
        );
        _release();
        vm.assertTrue(checkpoints.getCheckpoint(RUN, ROUND).released, "released after the dismissal");
    }

    function test_anUpheldDisputeRejectsTheRoundForGood() public {
        _attest(vera);
        _dispute(victor);
        _resolve(true);
        _setQuorum(1);
        _expectReleaseReverts(abi.encodeWithSelector(RoundRejected.selector, RUN, ROUND));

        address third = vm.addr(0x7E3);
        _appoint(third);
        vm.prank(third);
        vm.expectRevert(abi.encodeWithSelector(RoundRejected.selector, RUN, ROUND));
        checkpoints.disputeRound(RUN, ROUND, root, EVIDENCE);
        _expectReleaseReverts(abi.encodeWithSelector(RoundRejected.selector, RUN, ROUND));
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(NoOpenDispute.selector, RUN, ROUND));
        checkpoints.resolveDispute(RUN, ROUND, false);
    }

    function test_aDismissedRoundCanBeDisputedAgainByAnotherVerifier() public {
        _dispute(vera);
        _resolve(false);
        _dispute(victor);
        _expectReleaseReverts(abi.encodeWithSelector(RoundUnderDispute.selector, RUN, ROUND));
    }

    function test_aDisputeNamesTheCommittedRootAndItsEvidence() public {
        bytes32 other = keccak256("another root");
        vm.startPrank(vera);
        vm.expectRevert(abi.encodeWithSelector(RootMismatch.selector, RUN, ROUND, root, other));
        checkpoints.disputeRound(RUN, ROUND, other, EVIDENCE);
        vm.expectRevert(abi.encodeWithSelector(EvidenceRequired.selector, RUN, ROUND));
        checkpoints.disputeRound(RUN, ROUND, root, "");
        vm.stopPrank();
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(NoOpenDispute.selector, RUN, ROUND));
        checkpoints.resolveDispute(RUN, ROUND, true);
    }

    function test_aReleasedRoundCannotBeDisputed() public {
        _attest(vera);
        _attest(victor);
        _release();
        address third = vm.addr(0x7E3);
        _appoint(third);
        vm.prank(third);
        vm.expectRevert(abi.encodeWithSelector(AlreadyReleased.selector, RUN, ROUND));
        checkpoints.disputeRound(RUN, ROUND, root, EVIDENCE);
    }

    /// A revoked verifier's attestations stop counting for rounds not yet released; they stay on
    /// record (attesters) and a release already made stands.
    function test_aRevokedVerifiersAttestationsNoLongerCount() public {
        _attest(vera);
        _attest(victor);
        _dismiss(victor);
        vm.assertEq(checkpoints.attestationCount(RUN, ROUND), 1, "only vera counts now");
        vm.assertEq(checkpoints.attesters(RUN, ROUND).length, 2, "both on record");
        _expectReleaseReverts(abi.encodeWithSelector(AttestationQuorumNotMet.selector, RUN, ROUND, 1, 2));

        _appoint(victor);
        vm.assertEq(checkpoints.attestationCount(RUN, ROUND), 2, "re-appointed: counts again");
        _release();
        _dismiss(vera);
        vm.assertTrue(checkpoints.getCheckpoint(RUN, ROUND).released, "a release made stands");
    }
}

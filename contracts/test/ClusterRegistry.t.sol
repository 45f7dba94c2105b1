// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {DaoUnauthorized} from "@aragon/osx-commons-contracts/src/permission/auth/auth.sol";
import {ClusterRegistry} from "../src/ClusterRegistry.sol";
import {
    ClusterAlreadyRegistered,
    ClusterNotRegistered,
    ClusterOwnerMismatch,
    InvalidClusterTransition,
    NotClusterOwner
} from "../src/Errors.sol";
import {DaoTrainFixture} from "./utils/DaoTrainFixture.sol";
import {vm} from "./utils/Vm.sol";

contract ClusterRegistryTest is DaoTrainFixture {
    bytes32 internal constant CLUSTER = keccak256("cluster: eu-1");
    address internal immutable owner = vm.addr(0x0C1);

    uint8 internal constant REGISTERED = uint8(ClusterRegistry.ClusterStatus.Registered);
    uint8 internal constant ADMITTED = uint8(ClusterRegistry.ClusterStatus.Admitted);
    uint8 internal constant SUSPENDED = uint8(ClusterRegistry.ClusterStatus.Suspended);
    uint8 internal constant REMOVED = uint8(ClusterRegistry.ClusterStatus.Removed);

    function _register() internal {
        vm.prank(owner);
        clusters.registerCluster(CLUSTER, 8, "NVIDIA-H100-80GB-HBM3", "region=eu");
    }

    function _status() internal view returns (uint8) {
        return uint8(clusters.getCluster(CLUSTER).status);
    }

    function test_registrationRecordsOwnerCapacityAndStaysPendingUntilAdmitted() public {
        vm.expectEmit(address(clusters));
        emit ClusterRegistry.ClusterRegistered(CLUSTER, owner, 8, "NVIDIA-H100-80GB-HBM3", "region=eu");
        _register();

        ClusterRegistry.Cluster memory cluster = clusters.getCluster(CLUSTER);
        vm.assertEq(cluster.owner, owner, "owner");
        vm.assertEq(uint256(cluster.gpuCapacity), 8, "capacity");
        vm.assertEq(cluster.gpuProduct, "NVIDIA-H100-80GB-HBM3", "product");
        vm.assertEq(uint256(cluster.status), REGISTERED, "pending");
        vm.assertFalse(clusters.isAdmitted(CLUSTER), "not admitted yet");
        vm.assertEq(clusters.ownerOf(CLUSTER), owner, "ownerOf");
        vm.assertEq(clusters.clusterIds().length, 1, "listed");
    }

    function test_idsAreNeverReusedEvenAfterRemoval() public {
        _register();
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.removeCluster, (CLUSTER)));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ClusterAlreadyRegistered.selector, CLUSTER));
        clusters.registerCluster(CLUSTER, 1, "x", "y");
    }

    function test_daoAdmitsSuspendsReadmitsAndRemoves() public {
        _register();
        vm.expectEmit(address(clusters));
        emit ClusterRegistry.ClusterAdmitted(CLUSTER, owner, 8);
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (CLUSTER, owner)));
        vm.assertTrue(clusters.isAdmitted(CLUSTER), "admitted");

        vm.expectEmit(address(clusters));
        emit ClusterRegistry.ClusterSuspended(CLUSTER);
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.suspendCluster, (CLUSTER)));
        vm.assertEq(uint256(_status()), SUSPENDED, "suspended");

        _execute(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (CLUSTER, owner)));
        vm.assertTrue(clusters.isAdmitted(CLUSTER), "re-admitted");

        vm.expectEmit(address(clusters));
        emit ClusterRegistry.ClusterRemoved(CLUSTER);
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.removeCluster, (CLUSTER)));
        vm.assertEq(uint256(_status()), REMOVED, "removed");
    }

    function test_transitionsTheStatusDoesNotAllowRevertWithFromAndTo() public {
        _register();
        vm.startPrank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(InvalidClusterTransition.selector, CLUSTER, REGISTERED, SUSPENDED));
        clusters.suspendCluster(CLUSTER);

        clusters.removeCluster(CLUSTER);
        vm.expectRevert(abi.encodeWithSelector(InvalidClusterTransition.selector, CLUSTER, REMOVED, ADMITTED));
        clusters.admitCluster(CLUSTER, owner);
        vm.expectRevert(abi.encodeWithSelector(InvalidClusterTransition.selector, CLUSTER, REMOVED, REMOVED));
        clusters.removeCluster(CLUSTER);
        vm.stopPrank();
    }

    function test_unknownClusterCannotBeAdmitted() public {
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(ClusterNotRegistered.selector, CLUSTER));
        clusters.admitCluster(CLUSTER, owner);
    }

    /// A proposal names the owner it admits: an id squatted by someone else before the vote ends
    /// (or registered by someone else all along) is not admitted.
    function test_admissionIsBoundToTheOwnerTheDaoVotedFor() public {
        address squatter = vm.addr(0x5A7);
        vm.prank(squatter);
        clusters.registerCluster(CLUSTER, 64, "NVIDIA-H100-80GB-HBM3", "region=eu");
        vm.prank(address(dao));
        vm.expectRevert(abi.encodeWithSelector(ClusterOwnerMismatch.selector, CLUSTER, owner, squatter));
        clusters.admitCluster(CLUSTER, owner);
        vm.assertEq(uint256(_status()), REGISTERED, "still pending");
    }

    function test_capacityRaisedAfterAdmissionCountsOnlyAfterANewAdmission() public {
        _register();
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (CLUSTER, owner)));
        vm.prank(owner);
        clusters.updateCluster(CLUSTER, 64, "region=eu");
        ClusterRegistry.Cluster memory cluster = clusters.getCluster(CLUSTER);
        vm.assertEq(uint256(cluster.gpuCapacity), 64, "reported");
        vm.assertEq(uint256(cluster.admittedGpuCapacity), 8, "admitted stays what the DAO approved");

        vm.prank(owner);
        clusters.updateCluster(CLUSTER, 4, "region=eu");
        vm.assertEq(uint256(clusters.getCluster(CLUSTER).admittedGpuCapacity), 4, "a lower report counts at once");
        vm.prank(owner);
        clusters.updateCluster(CLUSTER, 16, "region=eu");
        vm.assertEq(uint256(clusters.getCluster(CLUSTER).admittedGpuCapacity), 4, "raising it back needs a vote");

        vm.expectEmit(address(clusters));
        emit ClusterRegistry.ClusterAdmitted(CLUSTER, owner, 16);
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (CLUSTER, owner)));
        vm.assertEq(uint256(clusters.getCluster(CLUSTER).admittedGpuCapacity), 16, "re-admitted at 16");
        vm.assertTrue(clusters.isAdmitted(CLUSTER), "admitted");
    }

    function test_onlyTheOwnerUpdatesCapacityAndAdmissionIsKept() public {
        _register();
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (CLUSTER, owner)));

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(NotClusterOwner.selector, CLUSTER, stranger));
        clusters.updateCluster(CLUSTER, 64, "stolen");

        vm.prank(owner);
        clusters.updateCluster(CLUSTER, 16, "region=eu,rack=2");
        vm.assertEq(uint256(clusters.getCluster(CLUSTER).gpuCapacity), 16, "capacity updated");
        vm.assertTrue(clusters.isAdmitted(CLUSTER), "still admitted");
    }

    function testFuzz_nobodyButTheDaoAdmitsSuspendsOrRemoves(address caller) public {
        vm.assume(caller != address(dao));
        _register();
        bytes memory denied = abi.encodeWithSelector(
            DaoUnauthorized.selector, address(dao), address(clusters), caller, clusters.GOVERNANCE_PERMISSION_ID()
        );
        vm.startPrank(caller);
        vm.expectRevert(denied);
        clusters.admitCluster(CLUSTER, owner);
        vm.expectRevert(denied);
        clusters.suspendCluster(CLUSTER);
        vm.expectRevert(denied);
        clusters.removeCluster(CLUSTER);
        vm.stopPrank();
        vm.assertEq(uint256(_status()), REGISTERED, "unchanged");
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDAO} from "@aragon/osx-commons-contracts/src/dao/IDAO.sol";
import {DaoGoverned} from "./DaoGoverned.sol";
import {
    ClusterAlreadyRegistered,
    ClusterNotRegistered,
    ClusterOwnerMismatch,
    InvalidClusterTransition,
    NotClusterOwner,
    ZeroId
} from "./Errors.sol";

/// @notice Contributed Kubernetes clusters. An owner registers a cluster; the DAO admits,
/// suspends (reversible) or removes (final) it. Only admitted clusters are scheduled and earn.
///
/// Admission names the owner the DAO voted for, so an id registered by someone else between the
/// proposal and its execution is refused, and it fixes the capacity the DAO approved
/// (`admittedGpuCapacity`): the owner may report more later, but the orchestrator schedules no more
/// than the admitted capacity until the DAO admits the cluster again. A lower report takes effect at once.
contract ClusterRegistry is DaoGoverned {
    enum ClusterStatus {
        None,
        Registered,
        Admitted,
        Suspended,
        Removed
    }

    struct Cluster {
        address owner;
        ClusterStatus status;
        /// @dev What the owner reports now.
        uint32 gpuCapacity;
        /// @dev What the DAO approved at the last admission, lowered by any lower report since.
        uint32 admittedGpuCapacity;
        uint64 registeredAt;
        string gpuProduct;
        string metadata;
    }

    mapping(bytes32 clusterId => Cluster) private _clusters;
    bytes32[] private _clusterIds;

    event ClusterRegistered(
        bytes32 indexed clusterId, address indexed owner, uint32 gpuCapacity, string gpuProduct, string metadata
    );
    event ClusterUpdated(bytes32 indexed clusterId, uint32 gpuCapacity, string metadata);
    event ClusterAdmitted(bytes32 indexed clusterId, address indexed owner, uint32 admittedGpuCapacity);
    event ClusterSuspended(bytes32 indexed clusterId);
    event ClusterRemoved(bytes32 indexed clusterId);

    constructor(IDAO dao_) DaoGoverned(dao_) {}

    /// @param clusterId The owner's chosen id, e.g. keccak256 of the cluster's name.
    /// @param metadata Free text for the DAO's vote (region, contact, kubeconfig fingerprint).
    function registerCluster(
        bytes32 clusterId,
        uint32 gpuCapacity,
        string calldata gpuProduct,
        string calldata metadata
    ) external {
        if (clusterId == bytes32(0)) revert ZeroId();
        // An enum compared, not a time: Slither's timestamp heuristics misread it.
        // slither-disable-next-line timestamp
        if (_clusters[clusterId].status != ClusterStatus.None) revert ClusterAlreadyRegistered(clusterId);
        _clusters[clusterId] = Cluster({
            owner: _msgSender(),
            status: ClusterStatus.Registered,
            gpuCapacity: gpuCapacity,
            admittedGpuCapacity: 0,
            registeredAt: uint64(block.timestamp),
            gpuProduct: gpuProduct,
            metadata: metadata
        });
        _clusterIds.push(clusterId);
        emit ClusterRegistered(clusterId, _msgSender(), gpuCapacity, gpuProduct, metadata);
    }

    /// @notice The owner reports a changed capacity or metadata; the admission status is kept. A
    /// lower capacity lowers the admitted one at once; a higher one waits for a new admission.
    function updateCluster(bytes32 clusterId, uint32 gpuCapacity, string calldata metadata) external {
        Cluster storage cluster = _existing(clusterId);
        if (cluster.owner != _msgSender()) revert NotClusterOwner(clusterId, _msgSender());
        cluster.gpuCapacity = gpuCapacity;
        if (gpuCapacity < cluster.admittedGpuCapacity) cluster.admittedGpuCapacity = gpuCapacity;
        cluster.metadata = metadata;
        emit ClusterUpdated(clusterId, gpuCapacity, metadata);
    }

    /// @notice Admits a registered or suspended cluster, or admits an admitted one again to approve
    /// the capacity its owner reports now.
    /// @param owner The owner the DAO voted to admit; the call reverts unless it registered the id.
    function admitCluster(bytes32 clusterId, address owner) external auth(GOVERNANCE_PERMISSION_ID) {
        Cluster storage cluster = _existing(clusterId);
        if (cluster.owner != owner) revert ClusterOwnerMismatch(clusterId, owner, cluster.owner);
        if (cluster.status == ClusterStatus.Removed) {
            revert InvalidClusterTransition(clusterId, uint8(cluster.status), uint8(ClusterStatus.Admitted));
        }
        cluster.status = ClusterStatus.Admitted;
        cluster.admittedGpuCapacity = cluster.gpuCapacity;
        emit ClusterAdmitted(clusterId, owner, cluster.gpuCapacity);
    }

    function suspendCluster(bytes32 clusterId) external auth(GOVERNANCE_PERMISSION_ID) {
        Cluster storage cluster = _existing(clusterId);
        if (cluster.status != ClusterStatus.Admitted) {
            revert InvalidClusterTransition(clusterId, uint8(cluster.status), uint8(ClusterStatus.Suspended));
        }
        cluster.status = ClusterStatus.Suspended;
        emit ClusterSuspended(clusterId);
    }

    function removeCluster(bytes32 clusterId) external auth(GOVERNANCE_PERMISSION_ID) {
        Cluster storage cluster = _existing(clusterId);
        if (cluster.status == ClusterStatus.Removed) {
            revert InvalidClusterTransition(clusterId, uint8(cluster.status), uint8(ClusterStatus.Removed));
        }
        cluster.status = ClusterStatus.Removed;
        emit ClusterRemoved(clusterId);
    }

    function getCluster(bytes32 clusterId) external view returns (Cluster memory) {
        return _clusters[clusterId];
    }

    function isAdmitted(bytes32 clusterId) external view returns (bool) {
        // An enum compared, not a time: Slither's timestamp heuristics misread it.
        // slither-disable-next-line incorrect-equality,timestamp
        return _clusters[clusterId].status == ClusterStatus.Admitted;
    }

    /// @notice Who is credited for the cluster's work: its owner while it is admitted, else zero.
    function admittedOwnerOf(bytes32 clusterId) external view returns (address) {
        Cluster storage cluster = _clusters[clusterId];
        return cluster.status == ClusterStatus.Admitted ? cluster.owner : address(0);
    }

    /// @notice The owner that rewards for this cluster are credited to.
    function ownerOf(bytes32 clusterId) external view returns (address) {
        return _clusters[clusterId].owner;
    }

    /// @notice Every id ever registered, in registration order (removed ones included).
    function clusterIds() external view returns (bytes32[] memory) {
        return _clusterIds;
    }

    function _existing(bytes32 clusterId) private view returns (Cluster storage cluster) {
        cluster = _clusters[clusterId];
        if (cluster.status == ClusterStatus.None) revert ClusterNotRegistered(clusterId);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Action} from "@aragon/osx-commons-contracts/src/executors/IExecutor.sol";
import {CheckpointRegistry} from "../../src/CheckpointRegistry.sol";
import {ClusterRegistry} from "../../src/ClusterRegistry.sol";
import {DaoTrainToken} from "../../src/DaoTrainToken.sol";
import {DatasetRegistry} from "../../src/DatasetRegistry.sol";
import {RunRegistry} from "../../src/RunRegistry.sol";
import {
    EXECUTE_PERMISSION_ID, IOsxDao, ROOT_PERMISSION_ID, deployOsxDao, executeAsDao, oneAction
} from "./OsxDao.sol";
import {vm} from "./Vm.sol";

/// @notice daotrain deployed as in production: a real OSx DAO holding the treasury, the four
/// registries bound to it, GOVERNANCE granted by the DAO to itself, OPERATOR to `operator`, and
/// CREDIT on the run registry to the checkpoint registry. The test contract holds
/// EXECUTE_PERMISSION, standing in for the voting plugin.
abstract contract DaoTrainFixture {
    uint256 internal constant TREASURY = 1_000_000 ether;
    bytes32 internal constant DATASET = keccak256("dataset: tiny-shakespeare");
    /// 10 rounds of 4 replicas × 8 GPUs, 6 hours each: at most 192 GPU-hours per round.
    uint32 internal constant ROUNDS = 10;
    uint32 internal constant REPLICAS = 4;
    uint32 internal constant GPUS_PER_REPLICA = 8;
    uint32 internal constant ROUND_DEADLINE = 6 hours;

    address internal immutable operator = vm.addr(0xA11CE);
    address internal immutable stranger = vm.addr(0xBAD);

    IOsxDao internal dao;
    DaoTrainToken internal token;
    DatasetRegistry internal datasets;
    ClusterRegistry internal clusters;
    RunRegistry internal runs;
    CheckpointRegistry internal checkpoints;

    function setUp() public virtual {
        dao = deployOsxDao(address(this));
        address[] memory holders = new address[](1);
        holders[0] = address(dao);
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = TREASURY;
        token = new DaoTrainToken("DaoTrain", "DTRN", holders, amounts);

        datasets = new DatasetRegistry(dao);
        clusters = new ClusterRegistry(dao);
        runs = new RunRegistry(dao, token, datasets, clusters);
        checkpoints = new CheckpointRegistry(dao, runs);

        dao.grant(address(dao), address(this), EXECUTE_PERMISSION_ID);
        // As DAOFactory leaves it: the DAO manages its own permissions, so proposals can grant them.
        dao.grant(address(dao), address(dao), ROOT_PERMISSION_ID);
        dao.grant(address(datasets), address(dao), datasets.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(clusters), address(dao), clusters.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(runs), address(dao), runs.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(checkpoints), address(dao), checkpoints.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(runs), operator, runs.OPERATOR_PERMISSION_ID());
        dao.grant(address(checkpoints), operator, checkpoints.OPERATOR_PERMISSION_ID());
        dao.grant(address(runs), address(checkpoints), runs.CREDIT_PERMISSION_ID());

        vm.label(address(dao), "dao");
        vm.label(operator, "operator");
        vm.label(stranger, "stranger");
    }

    function _execute(address to, bytes memory data) internal {
        executeAsDao(dao, oneAction(to, data));
    }

    function _approveDataset(bytes32 root) internal {
        _execute(address(datasets), abi.encodeCall(DatasetRegistry.approveDataset, (root, "s3://data/root", "CC-BY-4.0")));
    }

    function _registerAndAdmit(address owner, bytes32 clusterId, uint32 gpus) internal {
        vm.prank(owner);
        clusters.registerCluster(clusterId, gpus, "NVIDIA-H100-80GB-HBM3", "region=eu");
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (clusterId, owner)));
    }

    function _limits() internal pure returns (RunRegistry.RunLimits memory) {
        return RunRegistry.RunLimits({
            rounds: ROUNDS,
            replicasPerRound: REPLICAS,
            gpusPerReplica: GPUS_PER_REPLICA,
            roundDeadlineSeconds: ROUND_DEADLINE
        });
    }

    /// @notice The two actions a run proposal carries: approve the escrow, then approve the run,
    /// which pulls it from the treasury.
    function _runProposal(bytes32 runId, uint64 gpuSecondsBudget, uint256 rewardPerGpuHour)
        internal
        view
        returns (Action[] memory actions)
    {
        uint256 escrow = runs.escrowFor(gpuSecondsBudget, rewardPerGpuHour);
        actions = new Action[](2);
        actions[0] = Action({to: address(token), value: 0, data: abi.encodeCall(token.approve, (address(runs), escrow))});
        actions[1] = Action({
            to: address(runs),
            value: 0,
            data: abi.encodeCall(
                RunRegistry.approveRun,
                (runId, DATASET, gpuSecondsBudget, rewardPerGpuHour, _limits(), "s3://specs/run.json")
            )
        });
    }

    function _approveRun(bytes32 runId, uint64 gpuSecondsBudget, uint256 rewardPerGpuHour) internal {
        executeAsDao(dao, _runProposal(runId, gpuSecondsBudget, rewardPerGpuHour));
    }

    /// @notice The operator commits a round with a root and record derived from (run, round).
    function _commitRound(bytes32 runId, uint64 round, RunRegistry.ComputeRecord[] memory records) internal {
        vm.prank(operator);
        checkpoints.commitRound(
            runId, round, _rootOf(runId, round), "s3://ckpt/manifest.json", _recordOf(runId, round), _metrics(), records
        );
    }

    function _rootOf(bytes32 runId, uint64 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("root", runId, round));
    }

    function _recordOf(bytes32 runId, uint64 round) internal pure returns (bytes32) {
        return keccak256(abi.encode("record", runId, round));
    }

    function _noRecords() internal pure returns (RunRegistry.ComputeRecord[] memory) {
        return new RunRegistry.ComputeRecord[](0);
    }

    function _records(bytes32 clusterId, uint64 gpuSeconds)
        internal
        pure
        returns (RunRegistry.ComputeRecord[] memory records)
    {
        records = new RunRegistry.ComputeRecord[](1);
        records[0] = RunRegistry.ComputeRecord({clusterId: clusterId, gpuSeconds: gpuSeconds});
    }

    function _metrics() internal pure returns (CheckpointRegistry.Metrics memory) {
        return CheckpointRegistry.Metrics({loss: 2_500_000_000, valLoss: 2_600_000_000, tokens: 1 << 20, steps: 500});
    }
}

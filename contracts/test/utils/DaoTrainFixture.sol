// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Action} from "@aragon/osx-commons-contracts/src/executors/IExecutor.sol";
import {CheckpointRegistry} from "../../src/CheckpointRegistry.sol";
import {ClusterRegistry} from "../../src/ClusterRegistry.sol";
import {DaoTrainToken} from "../../src/DaoTrainToken.sol";
import {DatasetRegistry} from "../../src/DatasetRegistry.sol";
import {RunRegistry} from "../../src/RunRegistry.sol";
import {EXECUTE_PERMISSION_ID, IOsxDao, deployOsxDao, executeAsDao, oneAction} from "./OsxDao.sol";
import {vm} from "./Vm.sol";

/// @notice daotrain deployed as in production: a real OSx DAO holding the treasury, the four
/// registries bound to it, GOVERNANCE granted by the DAO to itself and OPERATOR to `operator`.
/// The test contract holds EXECUTE_PERMISSION, standing in for the voting plugin.
abstract contract DaoTrainFixture {
    uint256 internal constant TREASURY = 1_000_000 ether;
    bytes32 internal constant DATASET = keccak256("dataset: tiny-shakespeare");

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
        dao.grant(address(datasets), address(dao), datasets.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(clusters), address(dao), clusters.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(runs), address(dao), runs.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(checkpoints), address(dao), checkpoints.GOVERNANCE_PERMISSION_ID());
        dao.grant(address(runs), operator, runs.OPERATOR_PERMISSION_ID());
        dao.grant(address(checkpoints), operator, checkpoints.OPERATOR_PERMISSION_ID());

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
        _execute(address(clusters), abi.encodeCall(ClusterRegistry.admitCluster, (clusterId)));
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
                RunRegistry.approveRun, (runId, DATASET, gpuSecondsBudget, rewardPerGpuHour, "s3://specs/run.json")
            )
        });
    }

    function _approveRun(bytes32 runId, uint64 gpuSecondsBudget, uint256 rewardPerGpuHour) internal {
        executeAsDao(dao, _runProposal(runId, gpuSecondsBudget, rewardPerGpuHour));
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

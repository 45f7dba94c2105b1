// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DaoTrainToken} from "../src/DaoTrainToken.sol";
import {vm} from "./utils/Vm.sol";

contract DaoTrainTokenTest {
    address internal immutable alice = vm.addr(0xA);
    address internal immutable bob = vm.addr(0xB);
    address internal immutable carol = vm.addr(0xC);
    DaoTrainToken internal token;

    function setUp() public {
        address[] memory holders = new address[](2);
        holders[0] = alice;
        holders[1] = bob;
        uint256[] memory amounts = new uint256[](2);
        amounts[0] = 600 ether;
        amounts[1] = 400 ether;
        vm.roll(10);
        token = new DaoTrainToken("DaoTrain", "DTRN", holders, amounts);
    }

    function test_holdersCanVoteWithoutDelegating() public view {
        vm.assertEq(token.balanceOf(alice), 600 ether, "alice balance");
        vm.assertEq(token.getVotes(alice), 600 ether, "alice votes");
        vm.assertEq(token.getVotes(bob), 400 ether, "bob votes");
        vm.assertEq(token.delegates(alice), alice, "self-delegated");
    }

    function test_pastVotesAndSupplyAreReadByBlockNumberAsTokenVotingDoes() public {
        vm.assertEq(token.CLOCK_MODE(), "mode=blocknumber&from=default", "block clock");
        vm.roll(11);
        vm.prank(alice);
        token.transfer(carol, 100 ether);
        vm.roll(12);
        vm.assertEq(token.getPastVotes(alice, 10), 600 ether, "alice before transfer");
        vm.assertEq(token.getPastVotes(alice, 11), 500 ether, "alice after transfer");
        vm.assertEq(token.getPastVotes(carol, 11), 100 ether, "carol self-delegated on receipt");
        vm.assertEq(token.getPastTotalSupply(11), 1000 ether, "supply");
    }

    function test_anExplicitDelegationStandsWhenMoreTokensArrive() public {
        vm.prank(carol);
        token.delegate(bob);
        vm.prank(alice);
        token.transfer(carol, 100 ether);
        vm.assertEq(token.getVotes(carol), 0, "carol delegated away");
        vm.assertEq(token.getVotes(bob), 500 ether, "bob holds carol's votes");
    }

    function test_contractsAreNotAutoDelegated() public {
        vm.prank(alice);
        token.transfer(address(this), 100 ether);
        vm.assertEq(token.delegates(address(this)), address(0), "contract left undelegated");
        vm.assertEq(token.getVotes(alice), 500 ether, "alice's votes moved out with the tokens");
    }

    function test_answersErc165ForErc20AndVotesSoTokenVotingSetupDoesNotWrapIt() public view {
        vm.assertTrue(token.supportsInterface(type(IERC20).interfaceId), "IERC20");
        vm.assertTrue(token.supportsInterface(type(IVotes).interfaceId), "IVotes");
        vm.assertTrue(token.supportsInterface(0x01ffc9a7), "IERC165");
        vm.assertFalse(token.supportsInterface(0xffffffff), "ERC-165 invalid id");
    }

    function test_allocationListsMustHaveEqualLength() public {
        vm.expectRevert(abi.encodeWithSelector(DaoTrainToken.AllocationLengthMismatch.selector, 1, 0));
        new DaoTrainToken("x", "x", new address[](1), new uint256[](0));
    }
}

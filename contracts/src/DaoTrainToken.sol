// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IERC6372} from "@openzeppelin/contracts/interfaces/IERC6372.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @notice The DAO's governance token, also the reward token runs are funded in.
///
/// Votes use the block-number clock (OZ's default), which is what TokenVoting v1.0.0 reads through
/// getPastVotes / getPastTotalSupply. It answers ERC-165 for IERC20 and IVotes so TokenVotingSetup
/// uses it as it is instead of wrapping it. An account without code delegates to itself on first
/// receipt, so members can vote without a separate delegate transaction (any later delegate()
/// choice stands). Contracts (the DAO treasury, run escrows, smart wallets) are left undelegated:
/// they do not vote through TokenVoting, and moving undelegated tokens skips two vote checkpoints,
/// which makes escrow claims cheaper. A smart-wallet member calls delegate() once.
contract DaoTrainToken is ERC20, ERC20Permit, ERC20Votes, IERC165 {
    error AllocationLengthMismatch(uint256 holders, uint256 amounts);

    /// @notice Mints the whole supply once; there is no minter afterwards.
    constructor(string memory name_, string memory symbol_, address[] memory holders, uint256[] memory amounts)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        if (holders.length != amounts.length) revert AllocationLengthMismatch(holders.length, amounts.length);
        for (uint256 i = 0; i < holders.length; i++) {
            _mint(holders[i], amounts[i]);
        }
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC165).interfaceId || interfaceId == type(IERC20).interfaceId
            || interfaceId == type(IERC20Metadata).interfaceId || interfaceId == type(IERC20Permit).interfaceId
            || interfaceId == type(IVotes).interfaceId || interfaceId == type(IERC6372).interfaceId;
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
        if (to != address(0) && to.code.length == 0 && delegates(to) == address(0)) _delegate(to, to);
    }
}

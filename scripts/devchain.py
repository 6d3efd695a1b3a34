#!/usr/bin/env python3
"""Local-chain chores for the demo, done by anvil's unlocked dev account.

    devchain.py RPC_URL fund ADDRESS WEI
    devchain.py RPC_URL deploy-token BYTECODE_FILE        -> prints the token address
    devchain.py RPC_URL send-token TOKEN TO AMOUNT
    devchain.py RPC_URL balance ADDRESS                    -> wei
    devchain.py RPC_URL token-balance TOKEN ADDRESS

Only the standard library: JSON-RPC over HTTP, and the dev account that anvil
unlocks (never a key of the MPC wallet, which has no key to use).
"""
import json
import sys
import time
import urllib.request

DEV_ACCOUNT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def rpc(url, method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(url, body.encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.load(response)
    if "error" in reply:
        sys.exit(f"{method} failed: {reply['error']}")
    return reply["result"]


def send_and_wait(url, tx):
    tx_hash = rpc(url, "eth_sendTransaction", {"from": DEV_ACCOUNT, **tx})
    for _ in range(100):
        receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)
        if receipt:
            if receipt["status"] != "0x1":
                sys.exit(f"dev transaction {tx_hash} reverted")
            return receipt
        time.sleep(0.1)
    sys.exit(f"dev transaction {tx_hash} was not mined")


def word(value):
    return format(value, "064x")


def main(url, command, *args):
    if command == "fund":
        address, wei = args
        send_and_wait(url, {"to": address, "value": hex(int(wei))})
    elif command == "deploy-token":
        with open(args[0]) as f:
            bytecode = f.read().strip()
        print(send_and_wait(url, {"data": bytecode})["contractAddress"])
    elif command == "send-token":
        token, to, amount = args
        data = "0xa9059cbb" + word(int(to, 16)) + word(int(amount))
        send_and_wait(url, {"to": token, "data": data})
    elif command == "balance":
        print(int(rpc(url, "eth_getBalance", args[0], "latest"), 16))
    elif command == "token-balance":
        token, address = args
        data = "0x70a08231" + word(int(address, 16))
        print(int(rpc(url, "eth_call", {"to": token, "data": data}, "latest"), 16))
    else:
        sys.exit(f"unknown command {command}; see the docstring")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])

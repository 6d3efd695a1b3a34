//! Against a real anvil node: transactions signed with a known key, assembled
//! by mpc-evm and sent through its RPC client, are mined from the expected
//! address; RPC failures come back as the right typed errors.

use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::TxKind;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use mpc_evm::erc20::balance_of_calldata;
use mpc_evm::{
    decode_raw_tx, signed_authorization_json, Address, AuthorizationRequest, Bytes, EvmRpc, Fees,
    Receipt, RpcError, SignPayload, SignedTx, TxDraft, TxPolicy, TxRequest, TxType, B256, U256,
};
use mpc_testkit::{Anvil, ANVIL_DEV_KEY, SEPOLIA_CHAIN_ID};
use serde_json::json;
use serde_json::Value;

const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
/// Anvil's second dev account, funded but otherwise unused by these tests.
const SECOND_DEV_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

fn dev_signer() -> PrivateKeySigner {
    ANVIL_DEV_KEY.parse().unwrap()
}

fn policy() -> TxPolicy {
    TxPolicy::new(SEPOLIA_CHAIN_ID)
}

fn sign(tx: &TxRequest, signer: &PrivateKeySigner) -> SignedTx {
    let signature = signer
        .sign_hash_sync(&B256::from(tx.signing_hash()))
        .unwrap();
    tx.assemble(&signature).unwrap()
}

async fn mined(rpc: &EvmRpc, tx_hash: B256) -> Receipt {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(receipt) = rpc.receipt(tx_hash).await.unwrap() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "{tx_hash} not mined within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn transfer(nonce: u64, fees: Fees) -> TxRequest {
    TxRequest {
        chain_id: SEPOLIA_CHAIN_ID,
        nonce,
        to: TxKind::Call(RECIPIENT.parse().unwrap()),
        value: U256::from(12_345u64),
        gas_limit: 21_000,
        fees,
        data: Default::default(),
        access_list: None,
        authorization_list: None,
    }
}

#[tokio::test]
async fn legacy_and_eip1559_transfers_are_mined_from_the_signer() {
    let anvil = Anvil::start();
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let signer = dev_signer();
    let recipient: Address = RECIPIENT.parse().unwrap();
    let before = rpc.balance(recipient).await.unwrap();
    let txs = [
        transfer(
            0,
            Fees::Legacy {
                gas_price: 5_000_000_000,
            },
        ),
        transfer(
            1,
            Fees::Eip1559 {
                max_fee_per_gas: 5_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
            },
        ),
    ];
    for tx in &txs {
        let signed = sign(tx, &signer);
        let decoded = decode_raw_tx(&signed.raw_tx).unwrap();
        assert_eq!(decoded.from, signer.address());
        assert_eq!(decoded.tx_hash, signed.tx_hash);
        let sent = rpc.send_raw(&signed.raw_tx).await.unwrap();
        assert_eq!(sent, signed.tx_hash);
        let receipt = mined(&rpc, sent).await;
        assert!(receipt.success, "{receipt:?}");
        assert_eq!(receipt.from, signer.address());
        assert_eq!(receipt.gas_used, 21_000);
    }
    assert!(txs[0].v(false) >= SEPOLIA_CHAIN_ID * 2 + 35);
    assert_eq!(
        rpc.balance(recipient).await.unwrap() - before,
        U256::from(2 * 12_345u64)
    );
    assert_eq!(rpc.nonce(signer.address()).await.unwrap(), 2);
}

#[tokio::test]
async fn prepare_fills_nonce_fees_and_gas_from_the_node() {
    let anvil = Anvil::start();
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let signer = dev_signer();
    let first = sign(
        &transfer(
            0,
            Fees::Legacy {
                gas_price: 5_000_000_000,
            },
        ),
        &signer,
    );
    mined(&rpc, rpc.send_raw(&first.raw_tx).await.unwrap()).await;

    let draft = TxDraft::from_value(&json!({"to": RECIPIENT, "value": "7"})).unwrap();
    let tx = rpc
        .prepare(draft, signer.address(), &policy())
        .await
        .unwrap();
    assert_eq!(
        (tx.chain_id, tx.nonce, tx.gas_limit),
        (SEPOLIA_CHAIN_ID, 1, 21_000)
    );
    let Fees::Eip1559 {
        max_fee_per_gas,
        max_priority_fee_per_gas,
    } = tx.fees
    else {
        panic!("expected EIP-1559 fees, got {:?}", tx.fees);
    };
    assert!(max_priority_fee_per_gas <= max_fee_per_gas && max_fee_per_gas > 0);
    assert!(
        mined(
            &rpc,
            rpc.send_raw(&sign(&tx, &signer).raw_tx).await.unwrap()
        )
        .await
        .success
    );

    // A given tip is kept; the cap is estimated around it. Legacy stays legacy.
    let tip =
        TxDraft::from_value(&json!({"to": RECIPIENT, "max_priority_fee_per_gas": "3"})).unwrap();
    let tx = rpc.prepare(tip, signer.address(), &policy()).await.unwrap();
    assert!(
        matches!(tx.fees, Fees::Eip1559 { max_priority_fee_per_gas: 3, max_fee_per_gas } if max_fee_per_gas >= 3)
    );
    let legacy = TxDraft::from_value(&json!({"to": RECIPIENT, "gas_price": "9000000000"})).unwrap();
    let tx = rpc
        .prepare(legacy, signer.address(), &policy())
        .await
        .unwrap();
    assert_eq!(
        (tx.fees, tx.nonce),
        (
            Fees::Legacy {
                gas_price: 9_000_000_000
            },
            2
        )
    );

    // Prepare still validates: a wrong chain id in the draft is refused.
    let wrong = TxDraft::from_value(&json!({"to": RECIPIENT, "chain_id": 1})).unwrap();
    match rpc.prepare(wrong, signer.address(), &policy()).await {
        Err(RpcError::InvalidTx(e)) => assert_eq!(e.field(), Some("chain_id")),
        other => panic!("expected InvalidTx, got {other:?}"),
    }
}

#[tokio::test]
async fn erc20_transfer_from_tx_json_moves_tokens() {
    let anvil = Anvil::start();
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let signer = dev_signer();
    let token = deploy_fixture_token(&rpc, &signer).await;
    let supply = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18));
    assert_eq!(token_balance(&rpc, token, signer.address()).await, supply);

    let tx_json = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 1, "gas_limit": 100000,
        "max_fee_per_gas": "5000000000", "max_priority_fee_per_gas": "1000000000",
        "erc20": {"token": token.to_checksum(None), "to": RECIPIENT, "amount": "0x2a"}});
    let tx = TxRequest::from_json(&tx_json.to_string(), &policy()).unwrap();
    let receipt = mined(
        &rpc,
        rpc.send_raw(&sign(&tx, &signer).raw_tx).await.unwrap(),
    )
    .await;
    assert!(receipt.success, "{receipt:?}");
    let recipient: Address = RECIPIENT.parse().unwrap();
    assert_eq!(token_balance(&rpc, token, recipient).await, U256::from(42));
    assert_eq!(
        token_balance(&rpc, token, signer.address()).await,
        supply - U256::from(42)
    );

    // An overdraft reverts: mined with status 0, balances untouched.
    let poor: PrivateKeySigner = SECOND_DEV_KEY.parse().unwrap();
    let overdraft = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "gas_limit": 100000,
        "gas_price": "5000000000",
        "erc20": {"token": token.to_checksum(None), "to": RECIPIENT, "amount": 1}});
    let tx = TxRequest::from_json(&overdraft.to_string(), &policy()).unwrap();
    let receipt = mined(&rpc, rpc.send_raw(&sign(&tx, &poor).raw_tx).await.unwrap()).await;
    assert!(!receipt.success);
    assert_eq!(token_balance(&rpc, token, recipient).await, U256::from(42));
}

/// Deploys `tests/fixtures/minimal_erc20.hex` (see its README) with nonce 0.
async fn deploy_fixture_token(rpc: &EvmRpc, signer: &PrivateKeySigner) -> Address {
    let path = mpc_testkit::workspace_root().join("tests/fixtures/minimal_erc20.hex");
    let code = mpc_evm::parse_raw_tx_hex(&std::fs::read_to_string(path).unwrap()).unwrap();
    let create = TxEip1559 {
        chain_id: SEPOLIA_CHAIN_ID,
        nonce: 0,
        gas_limit: 500_000,
        max_fee_per_gas: 5_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Create,
        input: code.into(),
        ..Default::default()
    };
    let signature = signer.sign_hash_sync(&create.signature_hash()).unwrap();
    let raw = TxEnvelope::from(create.into_signed(signature)).encoded_2718();
    let receipt = mined(rpc, rpc.send_raw(&raw).await.unwrap()).await;
    assert!(receipt.success, "token deployment failed: {receipt:?}");
    signer.address().create(0)
}

async fn token_balance(rpc: &EvmRpc, token: Address, owner: Address) -> U256 {
    let out = rpc.call(token, balance_of_calldata(owner)).await.unwrap();
    U256::from_be_slice(&out)
}

#[tokio::test]
async fn rpc_errors_are_typed() {
    let anvil = Anvil::start();
    match EvmRpc::connect(&anvil.url(), 1).await {
        Err(RpcError::WrongChain {
            expected: 1,
            found: SEPOLIA_CHAIN_ID,
            ..
        }) => {}
        other => panic!("expected WrongChain, got {other:?}"),
    }
    let down = format!("http://127.0.0.1:{}", mpc_testkit::free_port());
    let err = EvmRpc::connect(&down, SEPOLIA_CHAIN_ID).await.unwrap_err();
    assert!(
        matches!(err, RpcError::Unreachable { .. }) && err.is_transient(),
        "{err:?}"
    );
    assert!(matches!(
        EvmRpc::connect("not a url", 1).await,
        Err(RpcError::BadUrl { .. })
    ));

    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let signer = dev_signer();
    let legacy = Fees::Legacy {
        gas_price: 5_000_000_000,
    };
    let first = sign(&transfer(0, legacy), &signer);
    mined(&rpc, rpc.send_raw(&first.raw_tx).await.unwrap()).await;
    let mut reuse = transfer(0, legacy);
    reuse.value = U256::from(1u64);
    let err = rpc
        .send_raw(&sign(&reuse, &signer).raw_tx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RpcError::NonceTooLow(_)) && !err.is_transient(),
        "{err:?}"
    );

    let err = rpc.send_raw(&[0x02, 0xc0, 0x01]).await.unwrap_err();
    assert!(matches!(err, RpcError::MalformedTx(_)), "{err:?}");
}

#[tokio::test]
async fn sending_the_same_transaction_twice_counts_as_sent() {
    let anvil = Anvil::start_with(&["--no-mining"]);
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let signed = sign(
        &transfer(
            0,
            Fees::Legacy {
                gas_price: 5_000_000_000,
            },
        ),
        &dev_signer(),
    );
    assert_eq!(rpc.send_raw(&signed.raw_tx).await.unwrap(), signed.tx_hash);
    assert_eq!(rpc.send_raw(&signed.raw_tx).await.unwrap(), signed.tx_hash);
    assert_eq!(rpc.receipt(signed.tx_hash).await.unwrap(), None);
}

/// Init code that deploys [`ANSWER_RUNTIME`]: CODECOPY the 10 bytes after
/// these 12 to memory and RETURN them.
const ANSWER_INIT_CODE: &str = "0x600a600c600039600a6000f3602a60005260206000f3";
/// Runtime code answering every call with the 32-byte word 42.
const ANSWER_RUNTIME: &str = "0x602a60005260206000f3";
const SLOT: &str = "0x0000000000000000000000000000000000000000000000000000000000000007";

/// Prepares tx.json for `signer` on the node, signs, sends and waits.
async fn prepare_and_mine(
    rpc: &EvmRpc,
    signer: &PrivateKeySigner,
    tx_json: Value,
) -> (TxRequest, SignedTx, Receipt) {
    let draft = TxDraft::from_value(&tx_json).unwrap();
    let tx = rpc
        .prepare(draft, signer.address(), &policy())
        .await
        .unwrap();
    let signed = sign(&tx, signer);
    let receipt = mined(rpc, rpc.send_raw(&signed.raw_tx).await.unwrap()).await;
    assert!(receipt.success, "{tx:?}: {receipt:?}");
    (tx, signed, receipt)
}

/// Deploys the answer-42 contract through tx.json without `to`.
async fn deploy_answer(rpc: &EvmRpc, signer: &PrivateKeySigner) -> Address {
    let nonce = rpc.nonce(signer.address()).await.unwrap();
    let (tx, _, receipt) = prepare_and_mine(rpc, signer, json!({"data": ANSWER_INIT_CODE})).await;
    assert_eq!(tx.to, TxKind::Create);
    assert!(tx.gas_limit >= 53_000, "{}", tx.gas_limit);
    let contract = receipt
        .contract_address
        .expect("a creation receipt names the contract");
    assert_eq!(contract, signer.address().create(nonce));
    contract
}

fn answer() -> Bytes {
    Bytes::from(U256::from(42).to_be_bytes::<32>().to_vec())
}

#[tokio::test]
async fn eip2930_transaction_is_mined_and_pays_for_its_access_list() {
    let anvil = Anvil::start();
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let signer = dev_signer();
    // `type: 1` with no gas_price: prepare fills a legacy gas price.
    let tx_json = json!({"type": 1, "to": RECIPIENT, "value": "1gwei",
        "access_list": [{"address": RECIPIENT, "storage_keys": [SLOT]}]});
    let (tx, signed, receipt) = prepare_and_mine(&rpc, &signer, tx_json).await;
    assert_eq!(tx.tx_type(), TxType::Eip2930);
    assert!(matches!(tx.fees, Fees::Legacy { gas_price } if gas_price > 0));
    assert_eq!(signed.raw_tx[0], 0x01);
    assert_eq!(
        decode_raw_tx(&signed.raw_tx).unwrap().from,
        signer.address()
    );
    // EIP-2930: 2,400 gas per address and 1,900 per storage key on top of 21,000.
    assert_eq!(receipt.gas_used, 21_000 + 2_400 + 1_900);
    assert_eq!(receipt.from, signer.address());
}

#[tokio::test]
async fn contract_creation_is_mined_and_the_contract_runs() {
    let anvil = Anvil::start();
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let contract = deploy_answer(&rpc, &dev_signer()).await;
    assert_eq!(
        rpc.code(contract).await.unwrap(),
        ANSWER_RUNTIME.parse::<Bytes>().unwrap()
    );
    assert_eq!(rpc.call(contract, Bytes::new()).await.unwrap(), answer());

    // A legacy creation works as well, with an explicit gas price.
    let (tx, signed, receipt) = prepare_and_mine(
        &rpc,
        &dev_signer(),
        json!({"data": ANSWER_INIT_CODE, "gas_price": "2gwei"}),
    )
    .await;
    assert_eq!((tx.tx_type(), tx.to), (TxType::Legacy, TxKind::Create));
    assert!(signed.raw_tx[0] >= 0xc0);
    assert!(receipt.contract_address.is_some());
}

/// Anvil follows Prague rules here explicitly, whatever its default hardfork.
#[tokio::test]
async fn eip7702_transaction_installs_the_delegation() {
    let anvil = Anvil::start_with(&["--hardfork", "prague"]);
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let sender = dev_signer();
    let delegate = deploy_answer(&rpc, &sender).await;

    // The authority signs the authorization payload's digest on its own...
    let authority: PrivateKeySigner = SECOND_DEV_KEY.parse().unwrap();
    let request = AuthorizationRequest {
        chain_id: SEPOLIA_CHAIN_ID,
        address: delegate,
        nonce: rpc.nonce(authority.address()).await.unwrap(),
    };
    let payload = SignPayload::Authorization(request);
    payload.validate(&policy()).unwrap();
    let signature = authority
        .sign_hash_sync(&B256::from(payload.digest().unwrap()))
        .unwrap();
    let signed_authorization = request.assemble(&signature).unwrap();

    // ...and another account sends the type-4 transaction carrying it.
    let tx_json = json!({"to": authority.address().to_checksum(None),
        "authorization_list": [signed_authorization_json(&signed_authorization)]});
    let (tx, signed, _) = prepare_and_mine(&rpc, &sender, tx_json).await;
    assert_eq!(tx.tx_type(), TxType::Eip7702);
    assert!(tx.gas_limit >= 21_000 + 25_000, "{}", tx.gas_limit);
    assert_eq!(signed.raw_tx[0], 0x04);
    assert_eq!(
        decode_raw_tx(&signed.raw_tx).unwrap().from,
        sender.address()
    );

    let designator = [&[0xef, 0x01, 0x00][..], delegate.as_slice()].concat();
    assert_eq!(
        rpc.code(authority.address()).await.unwrap(),
        Bytes::from(designator)
    );
    // The authority now runs the delegate's code.
    assert_eq!(
        rpc.call(authority.address(), Bytes::new()).await.unwrap(),
        answer()
    );
}

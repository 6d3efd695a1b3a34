//! The client library (`mpc-client`) as a Rust service uses it: alloy's own
//! provider and `EthereumWallet` with `MpcSigner`, against the real
//! co-signer over a real broker, mining on a real anvil. The examples the
//! README shows run here too.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use alloy::eips::eip7702::Authorization;
use alloy::network::{EthereumWallet, TransactionBuilder, TransactionBuilder7702};
use alloy::primitives::{address, Address, Bytes, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{AccessList, AccessListItem, TransactionReceipt, TransactionRequest};
use alloy::signers::{Signer, UnsupportedSignerOperation};
use alloy::sol;
use alloy::sol_types::{eip712_domain, SolCall, SolStruct};
use mpc_client::{Account, Connection, KeySource, MpcSigner, Overwrite, Passphrase, Wallet};
use mpc_e2e::{Anvil, Deployment, Role, ANVIL_DEV_ADDRESS, CLIENT_PASSPHRASE, SEPOLIA_CHAIN_ID};

sol! {
    interface IERC20 {
        function transfer(address to, uint256 amount) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
    }

    struct Mail {
        address from;
        address to;
        string contents;
    }
}

const RECIPIENT: Address = address!("0x000000000000000000000000000000000000bEEF");
const DELEGATE: Address = address!("0x00000000000000000000000000000000deadc0de");

fn dev() -> Address {
    ANVIL_DEV_ADDRESS.parse().unwrap()
}

async fn connect(deployment: &Deployment, anvil: &Anvil) -> Connection {
    Connection::builder()
        .nats_url(deployment.nats.url(Role::Client))
        .rpc_url(anvil.url())
        .chain_id(SEPOLIA_CHAIN_ID)
        .round_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("connect to the broker")
}

async fn new_wallet(connection: &Connection, deployment: &Deployment) -> Arc<Wallet> {
    let passphrase = Passphrase::new(CLIENT_PASSPHRASE.to_owned()).unwrap();
    let (wallet, created) = connection
        .keygen(
            &deployment.path("library_share.enc"),
            KeySource::Passphrase(passphrase),
            Overwrite::Refuse,
        )
        .await
        .expect("keygen through the library");
    assert_eq!(wallet.address(Account::Master).unwrap(), created.address);
    Arc::new(wallet)
}

/// Sends `tx` from anvil's unlocked dev account and waits for its receipt.
async fn from_dev(provider: &impl Provider, tx: TransactionRequest) -> TransactionReceipt {
    let receipt = provider
        .send_transaction(tx.with_from(dev()))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "dev transaction failed: {receipt:?}");
    receipt
}

/// Sends `tx` through a provider whose only wallet is `signer`, mined with
/// `from` = the signer's address.
async fn send(signer: &MpcSigner, rpc_url: &str, tx: TransactionRequest) -> TransactionReceipt {
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(rpc_url.parse().unwrap());
    let receipt = provider
        .send_transaction(tx)
        .await
        .unwrap_or_else(|e| panic!("send through MpcSigner: {e}"))
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "reverted: {receipt:?}");
    assert_eq!(receipt.from, alloy::signers::Signer::address(signer));
    receipt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alloy_provider_signs_every_transaction_type_through_the_mpc_wallet() {
    let deployment = Deployment::start();
    let anvil = Anvil::start();
    let rpc_url = anvil.url();
    let node = ProviderBuilder::new().connect_http(rpc_url.parse().unwrap());
    let connection = connect(&deployment, &anvil).await;
    let wallet = new_wallet(&connection, &deployment).await;
    let signer = MpcSigner::new(Arc::clone(&wallet), Account::Master).unwrap();
    let me = alloy::signers::Signer::address(&signer);
    from_dev(
        &node,
        TransactionRequest::default()
            .with_to(me)
            .with_value(U256::from(10u128.pow(18))),
    )
    .await;

    // EIP-1559 (what the provider fills by default) and legacy (a gas price given).
    let eip1559 = send(
        &signer,
        &rpc_url,
        TransactionRequest::default()
            .with_to(RECIPIENT)
            .with_value(U256::from(1000)),
    )
    .await;
    assert_eq!(
        eip1559.transaction_type(),
        alloy::consensus::TxType::Eip1559
    );
    let gas_price = node.get_gas_price().await.unwrap();
    let legacy = send(
        &signer,
        &rpc_url,
        TransactionRequest::default()
            .with_to(RECIPIENT)
            .with_value(U256::from(2000))
            .with_gas_price(gas_price),
    )
    .await;
    assert_eq!(legacy.transaction_type(), alloy::consensus::TxType::Legacy);

    // EIP-2930: an access list with a legacy gas price.
    let access_list = AccessList(vec![AccessListItem {
        address: RECIPIENT,
        storage_keys: vec![Default::default()],
    }]);
    let eip2930 = send(
        &signer,
        &rpc_url,
        TransactionRequest::default()
            .with_to(RECIPIENT)
            .with_value(U256::from(3000))
            .with_gas_price(gas_price)
            .with_access_list(access_list),
    )
    .await;
    assert_eq!(
        eip2930.transaction_type(),
        alloy::consensus::TxType::Eip2930
    );
    assert_eq!(node.get_balance(RECIPIENT).await.unwrap(), U256::from(6000));

    // A contract creation by the wallet (the ERC-20 fixture credits its
    // deployer), then a `sol!` transfer call.
    let init_code: Bytes = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/minimal_erc20.hex"),
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    let deployed = send(
        &signer,
        &rpc_url,
        TransactionRequest::default().with_deploy_code(init_code),
    )
    .await;
    let token = deployed.contract_address.expect("a created contract");
    let transfer = IERC20::transferCall {
        to: RECIPIENT,
        amount: U256::from(250),
    };
    send(
        &signer,
        &rpc_url,
        TransactionRequest::default()
            .with_to(token)
            .with_input(transfer.abi_encode()),
    )
    .await;
    let balance = node
        .call(
            TransactionRequest::default()
                .with_to(token)
                .with_input(IERC20::balanceOfCall { owner: RECIPIENT }.abi_encode()),
        )
        .await
        .unwrap();
    assert_eq!(U256::from_be_slice(&balance), U256::from(250));

    // A child account is a signer of its own.
    let child = MpcSigner::new(Arc::clone(&wallet), Account::Child(3)).unwrap();
    let child_address = alloy::signers::Signer::address(&child);
    assert_ne!(child_address, me);
    from_dev(
        &node,
        TransactionRequest::default()
            .with_to(child_address)
            .with_value(U256::from(10u128.pow(17))),
    )
    .await;
    send(
        &child,
        &rpc_url,
        TransactionRequest::default()
            .with_to(RECIPIENT)
            .with_value(U256::from(4000)),
    )
    .await;

    // EIP-7702: the master key authorizes a delegate; the child account
    // sponsors the type-4 transaction that carries the authorization.
    let authorization = Authorization {
        chain_id: U256::from(SEPOLIA_CHAIN_ID),
        address: DELEGATE,
        nonce: node.get_transaction_count(me).await.unwrap(),
    };
    let signed_authorization = signer.sign_authorization(authorization).await.unwrap();
    assert_eq!(signed_authorization.recover_authority().unwrap(), me);
    let eip7702 = send(
        &child,
        &rpc_url,
        TransactionRequest::default()
            .with_to(me)
            .with_authorization_list(vec![signed_authorization]),
    )
    .await;
    assert_eq!(
        eip7702.transaction_type(),
        alloy::consensus::TxType::Eip7702
    );
    let code = node.get_code_at(me).await.unwrap();
    let mut expected = vec![0xef, 0x01, 0x00];
    expected.extend_from_slice(DELEGATE.as_slice());
    assert_eq!(
        code.to_vec(),
        expected,
        "the wallet delegates to {DELEGATE}"
    );

    // Messages and typed data recover to the address with alloy's own recovery.
    let message = b"signed through mpc-client";
    let signature = signer.sign_message(message).await.unwrap();
    assert_eq!(signature.recover_address_from_msg(message).unwrap(), me);
    let mail = Mail {
        from: me,
        to: RECIPIENT,
        contents: "hello from the MPC wallet".to_owned(),
    };
    let domain = eip712_domain! {
        name: "Ether Mail",
        version: "1",
        chain_id: SEPOLIA_CHAIN_ID,
        verifying_contract: token,
    };
    let signature = signer.sign_typed_data(&mail, &domain).await.unwrap();
    assert_eq!(
        signature
            .recover_address_from_prehash(&mail.eip712_signing_hash(&domain))
            .unwrap(),
        me
    );

    // A rotation swaps the opened share in place: the same wallet (and its
    // signers) keep signing as the same address with the new share version.
    let rotated = wallet.rotate().await.unwrap();
    assert_eq!((rotated.address, rotated.share_version), (me, 1));
    assert_eq!(wallet.share().share_version(), 1);
    let signature = signer.sign_message(b"after the rotation").await.unwrap();
    assert_eq!(
        signature
            .recover_address_from_msg(b"after the rotation")
            .unwrap(),
        me
    );

    // A bare digest is never signed; a transaction for another chain is refused.
    assert!(matches!(
        signer.sign_hash(&Default::default()).await,
        Err(alloy::signers::Error::UnsupportedOperation(
            UnsupportedSignerOperation::SignHash
        ))
    ));
    let mut other_chain = alloy::consensus::TxEip1559 {
        chain_id: 1,
        gas_limit: 21_000,
        max_fee_per_gas: 1_000_000_000,
        to: RECIPIENT.into(),
        ..Default::default()
    };
    let refused = alloy::network::TxSigner::sign_transaction(&signer, &mut other_chain).await;
    assert!(
        matches!(
            refused,
            Err(alloy::signers::Error::TransactionChainIdMismatch {
                signer: SEPOLIA_CHAIN_ID,
                tx: 1
            })
        ),
        "{refused:?}"
    );
}

/// The README's "Use it from Rust" examples, as the compiled example binaries.
#[test]
fn the_library_examples_create_a_wallet_and_send_a_transaction() {
    let deployment = Deployment::start();
    let anvil = Anvil::start();
    let share = deployment.path("example_share.enc");
    let run = |example: &str, args: &[&str]| {
        let output = Command::new(example_binary(example))
            .args(args)
            .env("MPC_NATS_URL", deployment.nats.url(Role::Client))
            .env("MPC_RPC_URL", anvil.url())
            .env("MPC_PASSPHRASE", CLIENT_PASSPHRASE)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{example} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let created = run("create_wallet", &[share.to_str().unwrap()]);
    let address: Address = field(&created, "address").parse().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let node = ProviderBuilder::new().connect_http(anvil.url().parse().unwrap());
    runtime.block_on(from_dev(
        &node,
        TransactionRequest::default()
            .with_to(address)
            .with_value(U256::from(10u128.pow(18))),
    ));
    let sent = run(
        "send_transaction",
        &[share.to_str().unwrap(), &RECIPIENT.to_string(), "12345"],
    );
    assert_eq!(field(&sent, "status"), "success");
    assert_eq!(
        runtime
            .block_on(async { node.get_balance(RECIPIENT).await })
            .unwrap(),
        U256::from(12345)
    );
}

fn field<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {output}"))
}

fn example_binary(name: &str) -> std::path::PathBuf {
    let path = mpc_e2e::bin_dir().join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins --examples` first (scripts/test does)",
        path.display()
    );
    path
}

/// A keygen the client cannot finish (its share cannot be written) aborts
/// the session, and the co-signer removes its half at once: no orphan wallet.
#[tokio::test(flavor = "multi_thread")]
async fn a_keygen_whose_share_cannot_be_written_leaves_no_wallet_on_the_cosigner() {
    let deployment = Deployment::start();
    let connection = Connection::builder()
        .nats_url(deployment.nats.url(Role::Client))
        .connect()
        .await
        .expect("connect to the broker");
    let not_a_dir = deployment.path("a_file");
    std::fs::write(&not_a_dir, b"").unwrap();
    let passphrase = Passphrase::new(CLIENT_PASSPHRASE.to_owned()).unwrap();
    let error = connection
        .keygen(
            &not_a_dir.join("share.enc"),
            KeySource::Passphrase(passphrase),
            Overwrite::Refuse,
        )
        .await
        .expect_err("the share cannot be written under a file");
    assert_eq!(error.code(), "io", "{error}");

    let wallets = deployment.cosigner_data().join("wallets");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left: Vec<_> = std::fs::read_dir(&wallets)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        if left.is_empty() || std::time::Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(left.is_empty(), "the co-signer kept {left:?}");
    assert!(deployment.cosigner.logs().contains("abandoned keygen"));
}

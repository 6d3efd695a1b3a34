//! Unsigned EIP-2718 encoding, both directions, for every supported type;
//! reading alloy's own unsigned transactions (`from_signable`) so the digest
//! is exactly the one alloy signs; signed raw transactions of every type.

use alloy::consensus::{
    SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxLegacy, TypedTransaction,
};
use alloy::eips::eip2718::Encodable2718;
use alloy::eips::eip7702::Authorization;
use alloy::network::TxSignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use mpc_evm::{
    decode_raw_tx, AccessList, AccessListItem, Address, Bytes, Fees, Signature,
    SignedAuthorization, TxError, TxKind, TxPolicy, TxRequest, TxType, UnsignedTxError, B256, U256,
};

const CHAIN: u64 = 11155111;
const KEY: &str = "0x4646464646464646464646464646464646464646464646464646464646464646";

fn signer() -> PrivateKeySigner {
    KEY.parse().unwrap()
}

fn to() -> Address {
    "0x3535353535353535353535353535353535353535"
        .parse()
        .unwrap()
}

fn access_list() -> AccessList {
    AccessList(vec![AccessListItem {
        address: to(),
        storage_keys: vec![B256::with_last_byte(1), B256::with_last_byte(2)],
    }])
}

fn signed_authorization() -> SignedAuthorization {
    let authorization = Authorization {
        chain_id: U256::from(CHAIN),
        address: to(),
        nonce: 3,
    };
    let signature = signer()
        .sign_hash_sync(&authorization.signature_hash())
        .unwrap();
    authorization.into_signed(signature)
}

fn request(to: TxKind, fees: Fees, data: &[u8]) -> TxRequest {
    TxRequest {
        chain_id: CHAIN,
        nonce: 42,
        to,
        value: U256::from(1_000_000_007u64),
        gas_limit: 90_000,
        fees,
        data: Bytes::copy_from_slice(data),
        access_list: None,
        authorization_list: None,
    }
}

const LEGACY: Fees = Fees::Legacy {
    gas_price: 3_000_000_000,
};
const EIP1559: Fees = Fees::Eip1559 {
    max_fee_per_gas: 5_000_000_000,
    max_priority_fee_per_gas: 1_000_000_000,
};

/// One request of every type, calls and creations.
fn every_type() -> Vec<TxRequest> {
    let call = TxKind::Call(to());
    let with_list = |mut tx: TxRequest| {
        tx.access_list = Some(access_list());
        tx
    };
    let mut type4 = with_list(request(call, EIP1559, b"\x12\x34"));
    type4.authorization_list = Some(vec![signed_authorization()]);
    let mut type1_empty = request(call, LEGACY, b"");
    type1_empty.access_list = Some(AccessList::default());
    vec![
        request(call, LEGACY, b""),
        request(TxKind::Create, LEGACY, b"\x60\x00"),
        with_list(request(call, LEGACY, b"\xab")),
        type1_empty,
        with_list(request(TxKind::Create, LEGACY, b"\x60\x00")),
        request(call, EIP1559, b"\xab\xcd"),
        with_list(request(call, EIP1559, b"")),
        request(TxKind::Create, EIP1559, b"\x60\x00"),
        type4,
    ]
}

#[test]
fn decode_of_encode_is_the_same_request_with_the_same_digest() {
    let types: Vec<TxType> = every_type().iter().map(TxRequest::tx_type).collect();
    use TxType::*;
    assert_eq!(
        types,
        [Legacy, Legacy, Eip2930, Eip2930, Eip2930, Eip1559, Eip1559, Eip1559, Eip7702]
    );
    for tx in every_type() {
        let bytes = tx.encode_unsigned();
        let back = TxRequest::decode_unsigned(&bytes).unwrap();
        assert_eq!(back, tx, "{bytes}");
        assert_eq!(back.signing_hash(), tx.signing_hash());
        assert_eq!(
            B256::from(tx.signing_hash()),
            alloy::primitives::keccak256(&bytes)
        );
        assert_eq!(back.encode_unsigned(), bytes);
        // Typed transactions start with their type byte; legacy is bare RLP.
        match tx.tx_type() {
            Legacy => assert!(bytes[0] >= 0xc0),
            other => assert_eq!(bytes[0], other as u8),
        }
    }
}

/// The alloy transaction a `TxSigner` would be handed for each request.
fn alloy_txs() -> Vec<TypedTransaction> {
    let legacy = TxLegacy {
        chain_id: Some(CHAIN),
        nonce: 1,
        gas_price: 3_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to()),
        value: U256::from(5),
        input: Bytes::new(),
    };
    let eip2930 = TxEip2930 {
        chain_id: CHAIN,
        nonce: 2,
        gas_price: 3_000_000_000,
        gas_limit: 30_000,
        to: TxKind::Create,
        value: U256::ZERO,
        access_list: access_list(),
        input: Bytes::from_static(b"\x60\x00"),
    };
    let eip1559 = TxEip1559 {
        chain_id: CHAIN,
        nonce: 3,
        gas_limit: 50_000,
        max_fee_per_gas: 9,
        max_priority_fee_per_gas: 2,
        to: TxKind::Call(to()),
        value: U256::MAX,
        access_list: access_list(),
        input: Bytes::from_static(b"\xde\xad"),
    };
    let eip7702 = TxEip7702 {
        chain_id: CHAIN,
        nonce: 4,
        gas_limit: 80_000,
        max_fee_per_gas: 9,
        max_priority_fee_per_gas: 2,
        to: to(),
        value: U256::ZERO,
        access_list: AccessList::default(),
        authorization_list: vec![signed_authorization(), signed_authorization()],
        input: Bytes::new(),
    };
    vec![
        legacy.into(),
        eip2930.into(),
        eip1559.clone().into(),
        TxEip1559 {
            access_list: AccessList::default(),
            ..eip1559
        }
        .into(),
        eip7702.into(),
    ]
}

#[test]
fn from_signable_signs_exactly_the_digest_alloy_would() {
    for mut tx in alloy_txs() {
        let as_signer_sees_it: &mut dyn SignableTransaction<Signature> = &mut tx;
        let request = TxRequest::from_signable(as_signer_sees_it).unwrap();
        assert_eq!(
            B256::from(request.signing_hash()),
            tx.signature_hash(),
            "{tx:?}"
        );
        assert_eq!(request.tx_type(), tx.tx_type());
        assert_eq!(
            request.encode_unsigned(),
            Bytes::from(tx.encoded_for_signing())
        );
        assert_eq!(request.chain_id, CHAIN);
    }
    // The inner types work as well as the enum.
    let TypedTransaction::Legacy(legacy) = &alloy_txs()[0] else {
        unreachable!()
    };
    let request = TxRequest::from_signable(legacy).unwrap();
    assert_eq!(B256::from(request.signing_hash()), legacy.signature_hash());
    assert_eq!(
        (request.nonce, request.fees),
        (
            1,
            Fees::Legacy {
                gas_price: 3_000_000_000
            }
        )
    );
}

/// A `TxSigner` the way the wallet implements one: the digest comes from the
/// request `from_signable` reads, never from the transaction object itself.
struct ViaTxRequest(PrivateKeySigner);

impl TxSignerSync<Signature> for ViaTxRequest {
    fn address(&self) -> Address {
        self.0.address()
    }

    fn sign_transaction_sync(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> alloy::signers::Result<Signature> {
        let request = TxRequest::from_signable(tx).map_err(alloy::signers::Error::other)?;
        self.0.sign_hash_sync(&B256::from(request.signing_hash()))
    }
}

#[test]
fn a_tx_signer_built_on_from_signable_matches_alloys_local_signer() {
    let ours = ViaTxRequest(signer());
    for mut tx in alloy_txs() {
        let signature = ours.sign_transaction_sync(&mut tx).unwrap();
        let expected = signer().sign_transaction_sync(&mut tx.clone()).unwrap();
        assert_eq!(signature, expected);
        // And the signed envelope recovers our signer on decode.
        let raw = tx.clone().into_envelope(signature).encoded_2718();
        assert_eq!(decode_raw_tx(&raw).unwrap().from, signer().address());
    }
    // A blob transaction is refused, with the reason, not signed.
    let mut blob: TypedTransaction = TxEip4844 {
        chain_id: CHAIN,
        to: to(),
        blob_versioned_hashes: vec![B256::with_last_byte(1)],
        ..Default::default()
    }
    .into();
    let err = ours.sign_transaction_sync(&mut blob).unwrap_err();
    assert!(err.to_string().contains("blob"), "{err}");
}

fn decode_err(bytes: &[u8]) -> UnsignedTxError {
    match TxRequest::decode_unsigned(bytes) {
        Err(TxError::Unsigned(e)) => e,
        other => panic!("expected an unsigned-transaction error, got {other:?}"),
    }
}

#[test]
fn bad_unsigned_bytes_are_refused_with_the_reason() {
    let type2 = request(TxKind::Call(to()), EIP1559, b"").encode_unsigned();
    let mut trailing = type2.to_vec();
    trailing.push(0x80);
    assert_eq!(decode_err(&trailing), UnsignedTxError::TrailingBytes(1));

    let blob = TxEip4844 {
        chain_id: CHAIN,
        to: to(),
        ..Default::default()
    };
    assert_eq!(
        decode_err(&blob.encoded_for_signing()),
        UnsignedTxError::Blob
    );

    let mut unknown = type2.to_vec();
    unknown[0] = 0x05;
    assert_eq!(decode_err(&unknown), UnsignedTxError::UnknownType(0x05));

    let pre_eip155 = TxLegacy {
        chain_id: None,
        to: TxKind::Call(to()),
        ..Default::default()
    };
    assert_eq!(
        decode_err(&pre_eip155.encoded_for_signing()),
        UnsignedTxError::NoChainId
    );

    let huge_chain = TxEip1559 {
        chain_id: u64::MAX,
        to: TxKind::Call(to()),
        ..Default::default()
    };
    assert!(matches!(
        decode_err(&huge_chain.encoded_for_signing()),
        UnsignedTxError::ChainIdTooLarge(u64::MAX)
    ));

    // A signed transaction is not an unsigned one. alloy's lenient legacy
    // decoder reads the signed form's v as a chain id: refused as not canonical.
    let signature = signer().sign_hash_sync(&B256::ZERO).unwrap();
    let signed_legacy = request(TxKind::Call(to()), LEGACY, b"")
        .assemble(&signature)
        .unwrap();
    assert_eq!(
        decode_err(&signed_legacy.raw_tx),
        UnsignedTxError::NonCanonical
    );
    let signed_1559 = request(TxKind::Call(to()), EIP1559, b"")
        .assemble(&signature)
        .unwrap();
    assert!(matches!(
        decode_err(&signed_1559.raw_tx),
        UnsignedTxError::Malformed(_)
    ));

    for garbage in [&[][..], &[0x02][..], &[0xc0][..], &[0x02, 0xc0][..]] {
        assert!(
            matches!(decode_err(garbage), UnsignedTxError::Malformed(_)),
            "{garbage:?}"
        );
    }
    let message = TxError::from(UnsignedTxError::UnknownType(5)).to_string();
    assert!(
        message.contains("0x05") && message.contains("4 (EIP-7702)"),
        "{message}"
    );
}

#[test]
fn decoding_does_not_validate_but_validate_catches_what_it_lets_through() {
    let empty_list = TxEip7702 {
        chain_id: CHAIN,
        gas_limit: 50_000,
        max_fee_per_gas: 2,
        max_priority_fee_per_gas: 1,
        to: to(),
        ..Default::default()
    };
    let tx = TxRequest::decode_unsigned(&empty_list.encoded_for_signing()).unwrap();
    assert_eq!(tx.authorization_list, Some(vec![]));
    let err = tx.validate(&TxPolicy::new(CHAIN)).unwrap_err();
    assert_eq!(err.field(), Some("authorization_list"), "{err}");
    assert!(err.to_string().contains("is empty"), "{err}");
}

#[test]
fn signed_raw_transactions_of_every_type_decode_and_recover_the_signer() {
    for tx in every_type() {
        let signature = signer()
            .sign_hash_sync(&B256::from(tx.signing_hash()))
            .unwrap();
        let signed = tx.assemble(&signature).unwrap();
        let raw = decode_raw_tx(&signed.raw_tx).unwrap();
        assert_eq!(raw.from, signer().address(), "{:?}", tx.tx_type());
        assert_eq!((raw.chain_id, raw.nonce), (Some(CHAIN), 42));
        assert_eq!(raw.tx_hash, signed.tx_hash);
        assert_eq!(signed.v, tx.v(signature.v()));
        if tx.tx_type() != TxType::Legacy {
            assert_eq!(signed.raw_tx[0], tx.tx_type() as u8);
            assert!(signed.v <= 1);
        }
    }
}

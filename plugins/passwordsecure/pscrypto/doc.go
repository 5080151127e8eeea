// Package pscrypto implements the cryptography of the Netwrix Password Secure
// wire protocol (PROTOCOL.md §2 and §6): the seven encryption chains (0–6) with
// dispatch on the first ciphertext byte, the key encodings (msgpack P-521 keys,
// the .NET RSAKeyValue XML in its base64 "PF…" form, raw 32-byte AES keys), key
// generation, and the SignData/Verify signatures used by the API-key login.
//
// It is shared by the client (psr) and the emulator (psemu), so both sides speak
// byte-for-byte the same format; the vendor test vectors pin it.
//
// Keys travel as bytes in their wire encoding, never as Go key types, because
// that is how the protocol hands them around (API-key suffix, UserKey,
// EncryptedRoleRightKey, RightKey) and a caller should not need to know which
// kind it holds: Decrypt and Sign look at the key bytes and the ciphertext's
// chain byte and do the right thing.
//
// Errors never contain key or plaintext bytes. A key that does not fit the data
// yields an error wrapping ErrWrongKey; input that cannot be parsed yields one
// wrapping ErrMalformed. No input makes these functions panic.
package pscrypto

// The participant screen's input rules: what the forms accept before anything is signed. Every
// certificate number and person of the reference data passes; malformed input is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCertificate, checkCode, checkIdNumber, checkName, checkPhone, errorText, InputError } from '../public/me.js';
import { ApiError } from '../public/sign.js';
import { readJson } from './helpers.mjs';

test('every certificate number of the registry is accepted, in its normal form', () => {
  const properties = readJson('ledger-data/reference/properties.json');
  assert.ok(properties.length >= 300);
  for (const p of properties) {
    assert.equal(checkCertificate(p.certificate_no), p.certificate_no);
    // Full-width parentheses and stray spaces are typed often; the normal form is signed.
    assert.equal(checkCertificate(` ${p.certificate_no.replace('(', '（').replace(')', '）')} `), p.certificate_no);
  }
});

test('malformed certificate numbers are refused', () => {
  for (const bad of ['', '云(21)昆明市不动产权第0012345号', '云(2021)昆明市不动产权第001234号', 'X(2021)昆明市不动产权第0012345号',
    '云(1989)昆明市不动产权第0012345号', '云(2021)kunming不动产权第0012345号', '昆明市房权证五华区字第12345号', '房权证五华区字第201301312号',
    `云(2021)${'昆'.repeat(60)}不动产权第0012345号`, '云(2021)昆明市不动产权第0012345号<script>']) {
    assert.throws(() => checkCertificate(bad), InputError, bad);
  }
});

test('every person of the population register passes the name and ID number rules', () => {
  for (const p of readJson('ledger-data/reference/population.json')) {
    assert.equal(checkName(p.name), p.name);
    assert.equal(checkIdNumber(p.id_number), p.id_number);
    assert.equal(checkPhone(p.phone), p.phone);
  }
});

test('malformed phones, codes, names and ID numbers are refused', () => {
  for (const bad of ['', '12345678901', '1380000000', '138000000000', '23800000000', '1380000000a']) assert.throws(() => checkPhone(bad), InputError, bad);
  assert.equal(checkPhone('+86 13800000000'), '13800000000');
  for (const bad of ['', '12345', '1234567', 'abcdef']) assert.throws(() => checkCode(bad), InputError, bad);
  for (const bad of ['', ' ', '张三1', 'a'.repeat(41), '张\u0000三']) assert.throws(() => checkName(bad), InputError, JSON.stringify(bad));
  for (const bad of ['53010219900101001Y', '530102199001010010', '5301021990010100', '53010219900101001XX']) {
    assert.throws(() => checkIdNumber(bad), InputError, bad);
  }
  assert.equal(checkIdNumber('11010519491231002x'), '11010519491231002X');
});

test('the API\'s codes are shown in words, in Chinese by default', () => {
  assert.equal(errorText(new ApiError(401, { code: 'command.bad_signature', message: 'bad' })), '签名无效：指令在发送途中被改动或密钥不符。');
  assert.match(errorText(new ApiError(422, { code: 'identity.code_wrong', details: { tries_left: 2 } })), /验证码不正确。 还可尝试 2 次。/);
  assert.equal(errorText(new ApiError(0, { code: 'network' })), '网络连接中断，请稍后重试。');
  assert.match(errorText(new ApiError(418, { code: 'some.new_code' })), /some\.new_code/);
  assert.equal(errorText(new InputError('me_in_phone')), '请输入 11 位手机号（1 开头）。');
});

import { neutraliseCell } from './csv-cell';

describe('neutraliseCell', () => {
  it.each([
    ['=1+2', "'=1+2"],
    ['+cmd', "'+cmd"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', "'\t=1"],
    ['\r=1', "'\r=1"],
  ])('prefixes %j', (input, expected) => {
    expect(neutraliseCell(input)).toBe(expected);
  });

  it.each(['customers:read', 'a=b', '', ' =1', "'already"])('leaves %j alone', (input) => {
    expect(neutraliseCell(input)).toBe(input);
  });
});

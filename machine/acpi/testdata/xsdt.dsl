
[000h 0000   4]                    Signature : "XSDT"    [Extended System Description Table]
[004h 0004   4]                 Table Length : 00000034
[008h 0008   1]                     Revision : 01
[009h 0009   1]                     Checksum : 38
[00Ah 0010   6]                       Oem ID : "FTVM  "
[010h 0016   8]                 Oem Table ID : "FTVMBRD "
[018h 0024   4]                 Oem Revision : 00000001
[01Ch 0028   4]              Asl Compiler ID : "FTVM"
[020h 0032   4]        Asl Compiler Revision : 00000001

[024h 0036   8]       ACPI Table Address   0 : 00000000000E0110
[02Ch 0044   8]       ACPI Table Address   1 : 00000000000E0230

Raw Table Data: Length 52 (0x34)

    0000: 58 53 44 54 34 00 00 00 01 38 46 54 56 4D 20 20  // XSDT4....8FTVM  
    0010: 46 54 56 4D 42 52 44 20 01 00 00 00 46 54 56 4D  // FTVMBRD ....FTVM
    0020: 01 00 00 00 10 01 0E 00 00 00 00 00 30 02 0E 00  // ............0...
    0030: 00 00 00 00                                      // ....

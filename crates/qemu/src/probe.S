.code16
.globl _start
_start:
  cli
  xor %ax,%ax
  mov %ax,%ds
  mov %ax,%es
  mov %ax,%ss
  mov $0x7c00,%sp
  mov $0x1000,%di
  mov $0x1800,%cx
  rep stosw
  movl $0x2003,0x1000
  movl $0x3003,0x2000
  movl $0x0083,0x3000
  lgdtl gdtr - _start + 0x7c00
  mov %cr4,%eax
  or $0x20,%eax
  mov %eax,%cr4
  mov $0x1000,%eax
  mov %eax,%cr3
  mov $0xC0000080,%ecx
  rdmsr
  or $0x100,%eax
  wrmsr
  mov %cr0,%eax
  or $0x80000001,%eax
  mov %eax,%cr0
  ljmpl $0x08, $(lm - _start + 0x7c00)
.code64
lm:
  mov $0x3f8,%dx
  mov $'L',%al
  out %al,%dx
  mov $'M',%al
  out %al,%dx
1: hlt
  jmp 1b
.align 8
gdt:
  .quad 0
  .quad 0x00209A0000000000
gdtr:
  .word 15
  .long gdt - _start + 0x7c00
.org 510
  .byte 0x55, 0xAA

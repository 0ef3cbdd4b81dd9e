; ModuleID = 'LLVMDialectModule'
source_filename = "LLVMDialectModule"
target datalayout = "e-p3:32:32-p4:32:32-p5:32:32-p6:32:32-p7:32:32-p101:32:32-i64:64-i128:128-i256:256-v16:16-v32:32-n16:32:64"

; Function Attrs: nounwind
define ptx_kernel void @merge_step(ptr addrspace(1) %0, i32 %1, i32 %2, ptr addrspace(1) nofree readnone captures(none) %3, ptr addrspace(1) nofree readnone captures(none) %4) local_unnamed_addr #0 !dbg !4 {
  %6 = tail call i32 @llvm.nvvm.read.ptx.sreg.ctaid.x(), !dbg !11
  %7 = shl i32 %6, 9, !dbg !11
  %8 = tail call i32 @llvm.nvvm.read.ptx.sreg.tid.x(), !dbg !12
  %9 = and i32 %8, 127, !dbg !12
  %10 = add i32 %2, -1, !dbg !13
  %11 = sub i32 0, %2, !dbg !14
  %12 = sext i32 %2 to i64, !dbg !15
  %13 = or disjoint i32 %7, %9, !dbg !11
  %14 = or disjoint i32 %13, 128, !dbg !11
  %15 = or disjoint i32 %13, 256, !dbg !11
  %16 = or disjoint i32 %13, 384, !dbg !11
  %17 = insertelement <4 x i32> poison, i32 %16, i64 0, !dbg !16
  %18 = insertelement <4 x i32> %17, i32 %15, i64 1, !dbg !16
  %19 = insertelement <4 x i32> %18, i32 %14, i64 2, !dbg !16
  %20 = insertelement <4 x i32> %19, i32 %13, i64 3, !dbg !16
  %21 = insertelement <4 x i32> poison, i32 %11, i64 0, !dbg !16
  %22 = shufflevector <4 x i32> %21, <4 x i32> poison, <4 x i32> zeroinitializer, !dbg !16
  %23 = and <4 x i32> %20, %22, !dbg !16
  %24 = shl <4 x i32> %23, splat (i32 1), !dbg !17
  %25 = insertelement <4 x i32> poison, i32 %10, i64 0, !dbg !18
  %26 = shufflevector <4 x i32> %25, <4 x i32> poison, <4 x i32> zeroinitializer, !dbg !18
  %27 = and <4 x i32> %26, %20, !dbg !18
  %28 = or <4 x i32> %24, %27, !dbg !19
  %29 = extractelement <4 x i32> %28, i64 3, !dbg !20
  %30 = sext i32 %29 to i64, !dbg !20
  %31 = getelementptr [4 x i8], ptr addrspace(1) %0, i64 %30, !dbg !20
  %32 = extractelement <4 x i32> %28, i64 2, !dbg !20
  %33 = sext i32 %32 to i64, !dbg !20
  %34 = getelementptr [4 x i8], ptr addrspace(1) %0, i64 %33, !dbg !20
  %35 = extractelement <4 x i32> %28, i64 1, !dbg !20
  %36 = sext i32 %35 to i64, !dbg !20
  %37 = getelementptr [4 x i8], ptr addrspace(1) %0, i64 %36, !dbg !20
  %38 = extractelement <4 x i32> %28, i64 0, !dbg !20
  %39 = sext i32 %38 to i64, !dbg !20
  %40 = getelementptr [4 x i8], ptr addrspace(1) %0, i64 %39, !dbg !20
  %41 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %31) #2, !dbg !21
  %42 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %34) #2, !dbg !21
  %43 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %37) #2, !dbg !21
  %44 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %40) #2, !dbg !21
  %45 = getelementptr [4 x i8], ptr addrspace(1) %31, i64 %12, !dbg !15
  %46 = getelementptr [4 x i8], ptr addrspace(1) %34, i64 %12, !dbg !15
  %47 = getelementptr [4 x i8], ptr addrspace(1) %37, i64 %12, !dbg !15
  %48 = getelementptr [4 x i8], ptr addrspace(1) %40, i64 %12, !dbg !15
  %49 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %45) #2, !dbg !22
  %50 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %46) #2, !dbg !22
  %51 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %47) #2, !dbg !22
  %52 = tail call i32 asm sideeffect "mov.u32 $0, 0x0;\0A\09ld.global.b32 { $0 }, [ $1 + 0 ];", "=r,l"(ptr addrspace(1) %48) #2, !dbg !22
  %53 = tail call { i32, i32 } asm "min.s32 $0, $2, $3;\0A\09max.s32 $1, $2, $3;", "=r,=r,r,r"(i32 %41, i32 %49) #2, !dbg !23
  %54 = extractvalue { i32, i32 } %53, 0, !dbg !23
  %55 = extractvalue { i32, i32 } %53, 1, !dbg !23
  %56 = tail call { i32, i32 } asm "min.s32 $0, $2, $3;\0A\09max.s32 $1, $2, $3;", "=r,=r,r,r"(i32 %42, i32 %50) #2, !dbg !23
  %57 = extractvalue { i32, i32 } %56, 0, !dbg !23
  %58 = extractvalue { i32, i32 } %56, 1, !dbg !23
  %59 = tail call { i32, i32 } asm "min.s32 $0, $2, $3;\0A\09max.s32 $1, $2, $3;", "=r,=r,r,r"(i32 %43, i32 %51) #2, !dbg !23
  %60 = extractvalue { i32, i32 } %59, 0, !dbg !23
  %61 = extractvalue { i32, i32 } %59, 1, !dbg !23
  %62 = tail call { i32, i32 } asm "min.s32 $0, $2, $3;\0A\09max.s32 $1, $2, $3;", "=r,=r,r,r"(i32 %44, i32 %52) #2, !dbg !23
  %63 = extractvalue { i32, i32 } %62, 0, !dbg !23
  %64 = extractvalue { i32, i32 } %62, 1, !dbg !23
  %65 = insertelement <4 x i32> poison, i32 %1, i64 0, !dbg !26
  %66 = shufflevector <4 x i32> %65, <4 x i32> poison, <4 x i32> zeroinitializer, !dbg !26
  %67 = and <4 x i32> %28, %66, !dbg !26
  %68 = icmp eq <4 x i32> %67, zeroinitializer, !dbg !27
  %69 = extractelement <4 x i1> %68, i64 3, !dbg !28
  %70 = select i1 %69, i32 %54, i32 %55, !dbg !29
  %71 = extractelement <4 x i1> %68, i64 2, !dbg !28
  %72 = select i1 %71, i32 %57, i32 %58, !dbg !29
  %73 = extractelement <4 x i1> %68, i64 1, !dbg !28
  %74 = select i1 %73, i32 %60, i32 %61, !dbg !29
  %75 = extractelement <4 x i1> %68, i64 0, !dbg !28
  %76 = select i1 %75, i32 %63, i32 %64, !dbg !29
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %70, ptr addrspace(1) %31) #2, !dbg !30
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %72, ptr addrspace(1) %34) #2, !dbg !30
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %74, ptr addrspace(1) %37) #2, !dbg !30
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %76, ptr addrspace(1) %40) #2, !dbg !30
  %77 = select i1 %69, i32 %55, i32 %54, !dbg !28
  %78 = select i1 %71, i32 %58, i32 %57, !dbg !28
  %79 = select i1 %73, i32 %61, i32 %60, !dbg !28
  %80 = select i1 %75, i32 %64, i32 %63, !dbg !28
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %77, ptr addrspace(1) %45) #2, !dbg !31
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %78, ptr addrspace(1) %46) #2, !dbg !31
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %79, ptr addrspace(1) %47) #2, !dbg !31
  tail call void asm sideeffect "st.global.b32 [ $1 + 0 ], { $0 };", "r,l"(i32 %80, ptr addrspace(1) %48) #2, !dbg !31
  ret void, !dbg !32
}

; Function Attrs: mustprogress nocallback nofree nosync nounwind speculatable willreturn memory(none)
declare noundef range(i32 0, 2147483647) i32 @llvm.nvvm.read.ptx.sreg.ctaid.x() #1

; Function Attrs: mustprogress nocallback nofree nosync nounwind speculatable willreturn memory(none)
declare noundef range(i32 0, 1024) i32 @llvm.nvvm.read.ptx.sreg.tid.x() #1

attributes #0 = { nounwind "nvvm.reqntid"="128" }
attributes #1 = { mustprogress nocallback nofree nosync nounwind speculatable willreturn memory(none) }
attributes #2 = { nounwind }

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!2, !3}

!0 = distinct !DICompileUnit(language: DW_LANG_C, file: !1, producer: "triton", isOptimized: true, runtimeVersion: 0, emissionKind: LineTablesOnly)
!1 = !DIFile(filename: "sort_tile.py", directory: "<kernels>/triton")
!2 = !{i32 2, !"Debug Info Version", i32 3}
!3 = !{i32 4, !"nvvm-reflect-ftz", i32 1}
!4 = distinct !DISubprogram(name: "merge_step", linkageName: "merge_step", scope: !1, file: !1, line: 57, type: !5, scopeLine: 57, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0)
!5 = !DISubroutineType(cc: DW_CC_normal, types: !6)
!6 = !{null, !7, !8, !8, !9, !9}
!7 = !DIDerivedType(tag: DW_TAG_pointer_type, name: "pointer", baseType: !8, size: 64, dwarfAddressSpace: 1)
!8 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!9 = !DIDerivedType(tag: DW_TAG_pointer_type, name: "pointer", baseType: !10, size: 64, dwarfAddressSpace: 1)
!10 = !DIBasicType(name: "unknown_type", encoding: DW_ATE_signed)
!11 = !DILocation(line: 63, column: 9, scope: !4)
!12 = !DILocation(line: 63, column: 36, scope: !4)
!13 = !DILocation(line: 64, column: 17, scope: !4)
!14 = !DILocation(line: 64, column: 15, scope: !4)
!15 = !DILocation(line: 65, column: 56, scope: !4)
!16 = !DILocation(line: 64, column: 11, scope: !4)
!17 = !DILocation(line: 64, column: 10, scope: !4)
!18 = !DILocation(line: 64, column: 34, scope: !4)
!19 = !DILocation(line: 64, column: 9, scope: !4)
!20 = !DILocation(line: 65, column: 37, scope: !4)
!21 = !DILocation(line: 65, column: 29, scope: !4)
!22 = !DILocation(line: 65, column: 48, scope: !4)
!23 = !DILocation(line: 30, column: 12, scope: !24, inlinedAt: !25)
!24 = distinct !DILexicalBlockFile(scope: !4, file: !1, discriminator: 0)
!25 = !DILocation(line: 65, column: 17, scope: !24)
!26 = !DILocation(line: 66, column: 18, scope: !4)
!27 = !DILocation(line: 66, column: 17, scope: !4)
!28 = !DILocation(line: 68, column: 28, scope: !4)
!29 = !DILocation(line: 67, column: 24, scope: !4)
!30 = !DILocation(line: 67, column: 5, scope: !4)
!31 = !DILocation(line: 68, column: 5, scope: !4)
!32 = !DILocation(line: 57, column: 1, scope: !4)

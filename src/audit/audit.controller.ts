import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import { Roles } from '../auth/decorators';
import { ApiAuthenticatedProblems, ApiOp, ApiProblems } from '../common/http/api-docs';
import { AuditService } from './audit.service';
import { AuditEventPageDto, AuditQueryDto, ChainVerificationDto } from './dto/audit.dto';

@ApiTags('audit')
@ApiBearerAuth()
@ApiAuthenticatedProblems()
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOp('listAuditEvents', 'List audit events, newest first')
  @ApiProblems(400, 403)
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: AuditEventPageDto, description: 'Newest first' })
  list(@Query() query: AuditQueryDto): Promise<AuditEventPageDto> {
    return this.audit.list({
      ...query,
      since: query.since ? new Date(query.since) : undefined,
      until: query.until ? new Date(query.until) : undefined,
    });
  }

  @Get('verify')
  @ApiOp('verifyAuditChain', "Verify the audit log's hash chain")
  @ApiProblems(403)
  @Roles('admin', 'auditor')
  @ApiOkResponse({ type: ChainVerificationDto })
  verify(): Promise<ChainVerificationDto> {
    return this.audit.verify();
  }
}

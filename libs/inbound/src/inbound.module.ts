import { Module } from '@nestjs/common';
import { OutboundModule } from '@hookhub/outbound';
import { TasksModule } from '@hookhub/tasks';
import { Receipt } from './entities/receipt.entity';
import { Rule } from './entities/rule.entity';
import { Source } from './entities/source.entity';
import { ConfigFileService } from './services/config-file.service';
import { ReceiptWriter } from './services/receipt-writer';
import { ReceiptsService } from './services/receipts.service';
import { ReceiverService } from './services/receiver.service';
import { RejectionBurstDetector } from './services/rejection-burst';
import { RulesService } from './services/rules.service';
import { SourceRegistry } from './services/source-registry';
import { SourcesService } from './services/sources.service';

export const INBOUND_ENTITIES = [Source, Rule, Receipt];

/** Sources, verifiers, guards, the receiver, receipts and rules. */
@Module({
  imports: [TasksModule, OutboundModule],
  providers: [SourcesService, SourceRegistry, RulesService, ReceiptWriter, ReceiverService, ReceiptsService, ConfigFileService, RejectionBurstDetector],
  exports: [SourcesService, SourceRegistry, RulesService, ReceiptWriter, ReceiverService, ReceiptsService, ConfigFileService],
})
export class InboundModule {}
